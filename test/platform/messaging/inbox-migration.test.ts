import { sql } from "kysely";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Inbox, messagingMigrations } from "../../../src/platform/messaging/index.ts";
import type { Store } from "../../../src/platform/storage/index.ts";
import { storeTargets } from "../../support/stores.ts";

const targets = await storeTargets();

/** Migration 003 re-keys the inbox (msg_id, grp); what was processed before must stay processed. */
describe.each(targets)("inbox records across the re-keying migration on $name", (target) => {
  const stores: Store[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(() => target.cleanup());

  it("keeps every record, so a message handled before is still a duplicate after", async () => {
    const store = await target.open();
    stores.push(store);
    const before = messagingMigrations.filter((m) => m.id < "003");
    expect(before.map((m) => m.id)).toEqual(["001-log-offsets-leases", "002-outbox-inbox"]);
    await store.migrate("messaging", before);
    const inbox = new Inbox(store);
    const effects: string[] = [];
    const effect = (label: string) => async () => void effects.push(label);
    expect((await inbox.handleOnce("orders", { id: "m1" }, effect("orders m1"))).duplicate).toBe(false);
    expect((await inbox.handleOnce("payments", { id: "m1" }, effect("payments m1"))).duplicate).toBe(false);
    expect((await inbox.handleOnce("orders", { id: "m2" }, effect("orders m2"))).duplicate).toBe(false);

    expect(await store.migrate("messaging", messagingMigrations)).toEqual(["003-inbox-by-message"]);

    expect((await inbox.handleOnce("orders", { id: "m1" }, effect("again"))).duplicate).toBe(true);
    expect((await inbox.handleOnce("payments", { id: "m1" }, effect("again"))).duplicate).toBe(true);
    expect((await inbox.handleOnce("orders", { id: "m2" }, effect("again"))).duplicate).toBe(true);
    expect((await inbox.handleOnce("payments", { id: "m2" }, effect("payments m2"))).duplicate).toBe(false);
    expect(effects).toEqual(["orders m1", "payments m1", "orders m2", "payments m2"]);

    const rows = await sql<{ grp: string; msg_id: string }>`select grp, msg_id from messaging_inbox
      order by msg_id, grp`.execute(store.db);
    expect(rows.rows.map((r) => `${r.msg_id}/${r.grp}`)).toEqual([
      "m1/orders",
      "m1/payments",
      "m2/orders",
      "m2/payments",
    ]);
    expect(await inbox.prune(-1)).toBe(4);
    if (target.name === "sqlite") {
      // Message first, then group; and no rowid table beside the key's b-tree.
      const columns = await sql<{ name: string; pk: number }>`pragma table_info(messaging_inbox)`.execute(
        store.db,
      );
      expect(columns.rows.filter((c) => c.pk > 0).map((c) => [c.name, c.pk])).toEqual([
        ["grp", 2],
        ["msg_id", 1],
      ]);
      await expect(sql`select rowid from messaging_inbox`.execute(store.db)).rejects.toThrow(
        /no such column/,
      );
    }
  });
});

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Kysely, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Bus,
  createBus,
  type EmbeddedLogDriver,
  embeddedDriver,
  Inbox,
  isInvalidEventError,
  MemoryLogDriver,
  type Message,
  type MessagingTables,
  Outbox,
  OutboxRelay,
  type PublishItem,
} from "../../../src/platform/messaging/index.ts";
import { GroupCommit, openStore, type Store, type StoreConfig } from "../../../src/platform/storage/index.ts";
import { eventually, SERVICES, serviceAvailable, uniqueName } from "../../support/services.ts";
import { collect, Numbered, registry, topicName } from "./bus-contract.ts";

type Tables = MessagingTables & { account: { id: string; balance: number } };

const pgOk = await serviceAvailable("postgres");

for (const kind of ["sqlite", "postgres"] as const) {
  describe.skipIf(kind === "postgres" && !pgOk)(`outbox and inbox on ${kind}`, () => {
    let store: Store<Tables>;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      let config: StoreConfig;
      if (kind === "sqlite") {
        const dir = mkdtempSync(join(tmpdir(), "bwk-outbox-"));
        config = { kind, file: join(dir, "db.sqlite") };
        cleanup = async () => rmSync(dir, { recursive: true, force: true });
      } else {
        const schema = uniqueName("outbox").toLowerCase();
        config = { kind, url: SERVICES.postgres.url, schema };
        cleanup = async () => {
          const admin = await openStore({ kind, url: SERVICES.postgres.url, poolSize: 1 });
          await sql.raw(`drop schema if exists "${schema}" cascade`).execute(admin.db);
          await admin.close();
        };
      }
      store = await openStore<Tables>(config);
      await Outbox.migrate(store);
      await store.db.schema
        .createTable("account")
        .addColumn("id", "varchar(40)", (c) => c.primaryKey())
        .addColumn("balance", "integer", (c) => c.notNull())
        .execute();
    });
    afterAll(async () => {
      await store?.close();
      await cleanup?.();
    });

    /** The `n` of each event in the outbox for `topic`, in seq order. */
    const eventNumbers = async (topic: string) => {
      const rows = await store.db
        .selectFrom("messaging_outbox")
        .select("payload")
        .where("topic", "=", topic)
        .orderBy("seq")
        .execute();
      return rows.map((r) => (JSON.parse(r.payload) as { n: number }).n);
    };

    it("writes the event only when the state change commits", async () => {
      const outbox = new Outbox({ registry: registry() });
      const topic = topicName();
      await expect(
        store.db.transaction().execute(async (trx) => {
          await trx.insertInto("account").values({ id: "rolled-back", balance: 1 }).execute();
          await outbox.enqueue(trx, { topic, key: "a", event: Numbered.create({ key: "a", n: 1 }) });
          throw new Error("abort the transaction");
        }),
      ).rejects.toThrow("abort");
      const id = await store.db.transaction().execute(async (trx) => {
        await trx.insertInto("account").values({ id: "committed", balance: 1 }).execute();
        return outbox.enqueue(trx, { topic, key: "a", event: Numbered.create({ key: "a", n: 2 }) });
      });
      const rows = await store.db
        .selectFrom("messaging_outbox")
        .selectAll()
        .where("topic", "=", topic)
        .execute();
      expect(rows.map((r) => r.msg_id)).toEqual([id]);
      const invalid = await store.db
        .transaction()
        .execute((trx) =>
          outbox.enqueue(trx, { topic, key: "a", event: { type: Numbered.type, version: 1, payload: {} } }),
        )
        .catch((e: unknown) => e);
      expect(isInvalidEventError(invalid)).toBe(true);
    });

    it("relays rows in order, marks them sent, and republishes with the same ID after a crash", async () => {
      const outbox = new Outbox();
      // Rows other tests left unsent belong to topics this bus does not know.
      await store.db.updateTable("messaging_outbox").set({ sent_at: 0 }).execute();
      const bus = createBus({ driver: new MemoryLogDriver(), heartbeatMs: 20 });
      const topic = topicName();
      await bus.declareTopic({ name: topic, partitions: 1 });
      await store.db.transaction().execute((trx) =>
        outbox.enqueueMany(
          trx,
          Array.from({ length: 5 }, (_, n) => ({ topic, key: "k", event: Numbered.create({ key: "k", n }) })),
        ),
      );
      // A relay that dies after publishing and before marking: its batch is published again by the next one.
      const relay = new OutboxRelay({ store, bus, batchSize: 3 });
      const dying = {
        publishBatch: async (items: readonly PublishItem[]) => {
          await bus.publishBatch(items);
          throw new Error("killed before marking sent");
        },
      } as unknown as Bus;
      await expect(new OutboxRelay({ store, bus: dying, batchSize: 3 }).runOnce()).rejects.toThrow("killed");
      expect(await relay.drain()).toBe(5);
      expect(await relay.runOnce()).toBe(0);
      const { received, subscription } = collect(bus, { topic, group: "g" });
      await eventually(() => received.length === 8, { message: "3 + 5 deliveries" });
      await subscription.stop();
      await bus.close();
      expect(received.map((m) => (m.payload as { n: number }).n)).toEqual([0, 1, 2, 0, 1, 2, 3, 4]);
      expect(new Set(received.map((m) => m.id)).size).toBe(5);
    });

    it("applies a message's effect once, however often it is delivered", async () => {
      const inbox = new Inbox<Tables>(store);
      await store.db.insertInto("account").values({ id: "inbox", balance: 0 }).execute();
      const message = { id: uniqueName("msg") } as Message;
      const credit = (trx: Kysely<Tables>) =>
        trx
          .updateTable("account")
          .set((eb) => ({ balance: eb("balance", "+", 10) }))
          .where("id", "=", "inbox")
          .execute();
      const first = await inbox.handleOnce("g", message, credit);
      const again = await inbox.handleOnce("g", message, credit);
      const otherGroup = await inbox.handleOnce("other", message, credit);
      expect([first.duplicate, again.duplicate, otherGroup.duplicate]).toEqual([false, true, false]);
      // A failed effect leaves no record: the redelivery applies it.
      const failing = { id: uniqueName("msg") } as Message;
      await expect(
        inbox.handleOnce("g", failing, async (trx) => {
          await credit(trx);
          throw new Error("handler failed");
        }),
      ).rejects.toThrow("handler failed");
      expect((await inbox.handleOnce("g", failing, credit)).duplicate).toBe(false);
      const concurrent = await Promise.all(
        Array.from({ length: 5 }, () => inbox.handleOnce("g", { id: "same-id" }, credit)),
      );
      expect(concurrent.filter((r) => !r.duplicate)).toHaveLength(1);
      const row = await store.db
        .selectFrom("account")
        .select("balance")
        .where("id", "=", "inbox")
        .executeTakeFirstOrThrow();
      expect(row.balance).toBe(40);
    });

    it("leaves nothing of a duplicate's effect: no state change, no outbox row, and no error from its stale state", async () => {
      const outbox = new Outbox({ registry: registry() });
      const inbox = new Inbox<Tables>(store);
      const topic = topicName();
      const message = { id: uniqueName("msg") } as Message;
      const key = uniqueName("acct");
      // The effect expects a state the first delivery changes, the way a saga step does.
      const open = async (trx: Kysely<Tables>) => {
        const existing = await trx
          .selectFrom("account")
          .select("id")
          .where("id", "=", key)
          .executeTakeFirst();
        if (existing) throw new Error(`account ${key} is already open`);
        await trx.insertInto("account").values({ id: key, balance: 5 }).execute();
        await outbox.enqueue(trx, { topic, key, event: Numbered.create({ key, n: 1 }) });
        return "opened";
      };
      expect(await inbox.handleOnce("g", message, open)).toEqual({ duplicate: false, result: "opened" });
      expect(await inbox.handleOnce("g", message, open)).toEqual({ duplicate: true });
      const racing = await Promise.all(
        Array.from({ length: 4 }, () =>
          inbox.handleOnce("g", { id: `${message.id}-race` }, async (trx) => {
            await trx
              .updateTable("account")
              .set((eb) => ({ balance: eb("balance", "+", 1) }))
              .where("id", "=", key)
              .execute();
            await outbox.enqueue(trx, { topic, key, event: Numbered.create({ key, n: 2 }) });
          }),
        ),
      );
      expect(racing.filter((r) => !r.duplicate)).toHaveLength(1);
      const account = await store.db
        .selectFrom("account")
        .select("balance")
        .where("id", "=", key)
        .executeTakeFirst();
      expect(account?.balance).toBe(6);
      expect(await eventNumbers(topic)).toEqual([1, 2]);
    });
  });
}

describe("outbox relay into the embedded log on the same store", () => {
  it("moves rows into the log and marks them sent in one transaction", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bwk-relay-"));
    const store = await openStore({ kind: "sqlite", file: join(dir, "db.sqlite") });
    try {
      const log = await embeddedDriver({ store });
      const bus = createBus({ driver: log, registry: registry(), heartbeatMs: 20, ownsDriver: false });
      const topic = topicName();
      await bus.declareTopic({ name: topic, partitions: 2 });
      const outbox = new Outbox({ registry: registry() });
      await store.db.transaction().execute((trx) =>
        outbox.enqueueMany(
          trx,
          Array.from({ length: 7 }, (_, n) => ({
            topic,
            key: `k${n % 3}`,
            event: Numbered.create({ key: `k${n % 3}`, n }),
          })),
        ),
      );
      const relay = new OutboxRelay({ store, bus, sameStoreLog: log, batchSize: 4 });
      expect(await relay.drain()).toBe(7);
      expect(await relay.runOnce()).toBe(0);
      expect(await bus.lag(topic, "g")).toBe(7);
      const { received, subscription } = collect(bus, { topic, group: "g" });
      await eventually(() => received.length === 7, { message: "7 delivered" });
      await subscription.stop();
      await bus.close();
      expect(received.map((m) => (m.payload as { n: number }).n).sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Runs `test` against an outbox that appends to the embedded log on a scratch SQLite store. The log's poll is
 * far longer than any test, so only a wake or a hand-over can deliver in time.
 */
async function onEmbeddedLog(
  partitions: number,
  test: (s: {
    store: Store;
    bus: ReturnType<typeof createBus>;
    topic: string;
    outbox: Outbox;
    log: EmbeddedLogDriver;
  }) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bwk-log-"));
  const store = await openStore({ kind: "sqlite", file: join(dir, "db.sqlite") });
  try {
    const log = await embeddedDriver({ store, pollMs: 60_000 });
    const bus = createBus({ driver: log, registry: registry(), heartbeatMs: 20, ownsDriver: false });
    const topic = topicName();
    await bus.declareTopic({ name: topic, partitions });
    await test({ store, bus, topic, outbox: new Outbox({ registry: registry(), log }), log });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("outbox appending straight to the embedded log on the same store", () => {
  it("appends in the domain transaction: a rollback leaves no message, a commit one, and wake() delivers it at once", async () => {
    await onEmbeddedLog(3, async ({ store, bus, topic, outbox }) => {
      const { received, subscription } = collect(bus, { topic, group: "g" });
      await eventually(() => subscription.assigned().length === 3, { message: "partitions assigned" });
      await expect(
        store.db.transaction().execute(async (trx) => {
          await outbox.enqueue(trx, { topic, key: "a", event: Numbered.create({ key: "a", n: 0 }) });
          throw new Error("abort the transaction");
        }),
      ).rejects.toThrow("abort");
      const items = [1, 2, 3].map((n) => ({
        topic,
        key: `k${n}`,
        event: Numbered.create({ key: `k${n}`, n }),
      }));
      await store.db.transaction().execute((trx) => outbox.enqueueMany(trx, items));
      outbox.wake(items);
      await eventually(() => received.length === 3, { message: "3 delivered after wake", timeoutMs: 5_000 });
      await subscription.stop();
      await bus.close();
      expect(received.map((m) => (m.payload as { n: number }).n).sort()).toEqual([1, 2, 3]);
      const outboxRows = await store.db.selectFrom("messaging_outbox").selectAll().execute();
      expect(outboxRows).toHaveLength(0);
    });
  });
});

describe("handing committed log rows to this process's readers, with units sharing a commit", () => {
  it("never delivers a rolled-back unit's event, and still delivers the row that reuses its sequence", async () => {
    await onEmbeddedLog(1, async ({ store, bus, topic, outbox }) => {
      const units = new GroupCommit(store);
      const { received, subscription } = collect(bus, { topic, group: "g" });
      await eventually(() => subscription.assigned().length === 1, { message: "partition assigned" });
      const unit = (n: number, fail: boolean) =>
        units
          .transaction(async (trx) => {
            await outbox.enqueue(trx, { topic, key: `k${n}`, event: Numbered.create({ key: `k${n}`, n }) });
            if (fail) throw new Error(`unit ${n} fails`);
            return trx;
          })
          .then((trx) => outbox.handOff(trx));
      // One group: 1 commits, 2 rolls back to its savepoint (its sequence is free again); 3, next, takes it.
      const outcomes = await Promise.allSettled([unit(1, false), unit(2, true)]);
      expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected"]);
      await unit(3, false);
      // The partition delivers in order: once a later event is in, a phantom of unit 2 would be in too.
      await unit(4, false);
      await eventually(() => received.some((m) => (m.payload as { n: number }).n === 4), {
        message: "the later event delivered",
        timeoutMs: 5_000,
      });
      await subscription.stop();
      await bus.close();
      expect(received.map((m) => (m.payload as { n: number }).n)).toEqual([1, 3, 4]);
    });
  });

  it("hands rows over in commit order even when callers resume out of it, so readers never read them back", async () => {
    await onEmbeddedLog(1, async ({ store, bus, topic, outbox, log }) => {
      const units = new GroupCommit(store, { committed: (trx) => outbox.handOff(trx) });
      const { received, subscription } = collect(bus, { topic, group: "g" });
      await eventually(() => subscription.assigned().length === 1, { message: "partition assigned" });
      await eventually(() => log.partitionReads > 0, { message: "the reader's first read" });
      const readsAfterOpen = log.partitionReads;
      // Units 1-6 share a commit; the lower a unit's number, the later its caller resumes. Callers hand
      // over too, as the services' events-out does: by then the listener has, and nothing is left to hand.
      const unit = async (n: number) => {
        const trx = await units.transaction(async (trx) => {
          await outbox.enqueue(trx, { topic, key: `k${n}`, event: Numbered.create({ key: `k${n}`, n }) });
          return trx;
        });
        for (let i = n; i < 6; i++) await Promise.resolve();
        outbox.handOff(trx);
      };
      await Promise.all([1, 2, 3, 4, 5, 6].map(unit));
      await eventually(() => received.length === 6, { message: "6 delivered", timeoutMs: 5_000 });
      await subscription.stop();
      await bus.close();
      expect(received.map((m) => (m.payload as { n: number }).n)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(log.partitionReads).toBe(readsAfterOpen);
    });
  });
});

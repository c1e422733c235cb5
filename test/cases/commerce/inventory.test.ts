import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Kysely, sql } from "kysely";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  type InventoryDb,
  InventoryRepository,
  inventoryMigrations,
} from "../../../src/cases/commerce/inventory/index.ts";
import { openStore, type Store } from "../../../src/platform/storage/index.ts";
import { sqliteHandleOf } from "../../../src/platform/storage/store.ts";
import { storeTargets } from "../../support/stores.ts";

const targets = await storeTargets();

describe.each(targets)("inventory reservations on $name", (target) => {
  const stores: Store[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(() => target.cleanup());

  async function setup(atomicReservation = true) {
    const store = await target.open();
    stores.push(store);
    await store.migrate("inventory", inventoryMigrations);
    const db = store.db as Kysely<InventoryDb>;
    const repo = new InventoryRepository(db, { atomicReservation });
    const reserve = (
      orderId: string,
      items: Array<{ sku: string; qty: number }>,
      now = 0,
      expiresAt = 60_000,
    ) => db.transaction().execute((trx) => repo.reserve(trx, orderId, items, now, expiresAt));
    const inTrx = <T>(fn: (trx: import("kysely").Transaction<InventoryDb>) => Promise<T>) =>
      db.transaction().execute(fn);
    return { repo, reserve, inTrx };
  }

  it("500 buyers racing for 50 units: exactly 50 reservations, stock never negative", async () => {
    const { repo, reserve } = await setup();
    await repo.upsertProduct({ sku: "PS5", name: "Console", priceCents: 49_900, stock: 50 });
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) => reserve(`order-${i}`, [{ sku: "PS5", qty: 1 }])),
    );
    const won = results.filter((r) => r.ok).length;
    expect(won).toBe(50);
    expect(results.filter((r) => !r.ok && r.reason === "insufficient-stock")).toHaveLength(450);
    expect(await repo.stock("PS5")).toEqual({
      sku: "PS5",
      available: 0,
      reserved: 50,
      sold: 0,
      received: 50,
    });
  });

  it.runIf(target.name === "postgres")(
    "with atomic reservation switched off, the read-then-write path oversells under the same race",
    async () => {
      const { repo, reserve } = await setup(false);
      await repo.upsertProduct({ sku: "PS5", name: "Console", priceCents: 49_900, stock: 50 });
      const results = await Promise.all(
        Array.from({ length: 500 }, (_, i) => reserve(`order-${i}`, [{ sku: "PS5", qty: 1 }])),
      );
      const won = results.filter((r) => r.ok).length;
      console.log(`read-then-write: ${won} reservations granted for 50 units (${won - 50} oversold)`);
      expect(won).toBeGreaterThan(50);
    },
  );

  it("reserves all lines of an order or none, and is idempotent per order", async () => {
    const { repo, reserve } = await setup();
    await repo.upsertProduct({ sku: "A", name: "a", priceCents: 100, stock: 5 });
    await repo.upsertProduct({ sku: "B", name: "b", priceCents: 250, stock: 1 });
    const failed = await reserve("o1", [
      { sku: "A", qty: 2 },
      { sku: "B", qty: 2 },
    ]);
    expect(failed).toEqual({ ok: false, reason: "insufficient-stock", sku: "B" });
    expect(await repo.stock("A")).toMatchObject({ available: 5, reserved: 0 });
    const unknown = await reserve("o2", [{ sku: "Z", qty: 1 }]);
    expect(unknown).toEqual({ ok: false, reason: "unknown-sku", sku: "Z" });

    const ok = await reserve("o3", [
      { sku: "A", qty: 1 },
      { sku: "B", qty: 1 },
      { sku: "A", qty: 1 },
    ]);
    expect(ok).toMatchObject({ ok: true, totalCents: 2 * 100 + 250, alreadyReserved: false });
    const again = await reserve("o3", [
      { sku: "A", qty: 1 },
      { sku: "B", qty: 1 },
      { sku: "A", qty: 1 },
    ]);
    expect(again).toMatchObject({ ok: true, totalCents: 450, alreadyReserved: true });
    expect((await repo.stock("B"))!.reserved).toBe(1);
  });

  it("confirm, release and expiry each move a reservation once, whichever comes first", async () => {
    const { repo, reserve, inTrx } = await setup();
    await repo.upsertProduct({ sku: "A", name: "a", priceCents: 100, stock: 10 });
    await reserve("keep", [{ sku: "A", qty: 3 }], 0, 1_000);
    await reserve("drop", [{ sku: "A", qty: 2 }], 0, 1_000);
    await reserve("late", [{ sku: "A", qty: 4 }], 0, 1_000);
    await reserve("returned", [{ sku: "A", qty: 1 }], 0, 1_000);

    expect(await inTrx((t) => repo.confirm(t, "keep", 10))).toBe(true);
    expect(await inTrx((t) => repo.confirm(t, "keep", 10))).toBe(false);
    expect(await inTrx((t) => repo.release(t, "drop", 12))).toBe(true);
    expect(await inTrx((t) => repo.release(t, "drop", 13))).toBe(false);
    expect(await repo.expiredOrders(999)).toEqual([]);
    expect(await repo.expiredOrders(1_001)).toEqual(["late", "returned"]);
    expect(await inTrx((t) => repo.expire(t, "late", 1_001))).toBe(true);
    expect(await inTrx((t) => repo.confirm(t, "late", 1_002))).toBe(false);
    // An order cancelled after its stock was sold (the saga's compensation) gives the units back.
    expect(await inTrx((t) => repo.confirm(t, "returned", 500))).toBe(true);
    expect(await inTrx((t) => repo.release(t, "returned", 1_003))).toBe(true);
    expect(await inTrx((t) => repo.expire(t, "returned", 1_004))).toBe(false);

    expect(await repo.stock("A")).toEqual({ sku: "A", available: 7, reserved: 0, sold: 3, received: 10 });
    expect((await repo.reservations()).map((r) => [r.orderId, r.status])).toEqual([
      ["drop", "released"],
      ["keep", "confirmed"],
      ["late", "expired"],
      ["returned", "released"],
    ]);
    expect(await repo.restock("A", 5)).toMatchObject({ available: 12, received: 15 });
    expect(await repo.restock("nope", 5)).toBeUndefined();
  });
});

/** SQLite plans without statistics: the schema itself must leave it one good index per hot statement. */
describe("inventory's indexes on sqlite", () => {
  it("an order's lines are found by primary key, expired ones by the index of held lines only", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bwk-inventory-plan-"));
    const store = await openStore({ kind: "sqlite", file: join(dir, "inventory.db") });
    try {
      await store.migrate("inventory", inventoryMigrations);
      const db = store.db as Kysely<InventoryDb>;
      const plan = (query: { compile(): { sql: string; parameters: readonly unknown[] } }) => {
        const { sql: text, parameters } = query.compile();
        return sqliteHandleOf(store)!
          .raw.prepare(`explain query plan ${text}`)
          .all(...(parameters as string[]))
          .map((row) => String((row as { detail: string }).detail))
          .join(" | ");
      };
      // As InventoryRepository confirms an order (CONFIRM_HELD) and as its sweeper looks for expired lines.
      const confirm = db
        .updateTable("inv_reservations")
        .set({ status: "confirmed", updated_at: 1 })
        .where("order_id", "=", "o1")
        .where("status", "=", "held")
        .returning(["sku", "qty"]);
      const sweep = db
        .selectFrom("inv_reservations")
        .select("order_id")
        .distinct()
        .where("status", "=", sql.lit("held"))
        .where("expires_at", "<", 5);
      expect(plan(confirm)).toMatch(/USING INDEX sqlite_autoindex_inv_reservations_1 \(order_id=\?\)/);
      expect(plan(sweep)).toMatch(/USING INDEX inv_reservations_held_expiry \(expires_at<\?\)/);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

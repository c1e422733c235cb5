import { type Kysely, sql } from "kysely";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { type OrderDb, orderMigrations } from "../../../src/cases/commerce/order/migrations.ts";
import { OrderRepository } from "../../../src/cases/commerce/order/order-repository.ts";
import type { Store } from "../../../src/platform/storage/index.ts";
import { sqliteHandleOf } from "../../../src/platform/storage/store.ts";
import { storeTargets } from "../../support/stores.ts";

const targets = await storeTargets();

/** Migration 004 rebuilds the sweeper's index (and, on SQLite, the timeline table): nothing may be lost. */
describe.each(targets)("orders across migration 004 on $name", (target) => {
  const stores: Store[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(() => target.cleanup());

  it("keeps orders and their timelines, and the sweeper still finds overdue PENDING orders", async () => {
    const store = await target.open();
    stores.push(store);
    const before = orderMigrations.filter((m) => m.id < "004");
    expect(before).toHaveLength(3);
    await store.migrate("order", before);
    const db = store.db as Kysely<OrderDb>;
    const repo = new OrderRepository(db);
    const place = (id: string, deadlineAt: number) =>
      db.transaction().execute((trx) =>
        repo.insert(trx, {
          id,
          accessTokenHash: "h",
          customerId: "c",
          items: [{ sku: "A", qty: 1 }],
          paymentToken: "tok_visa",
          now: 100,
          deadlineAt,
        }),
      );
    await place("late", 1_000);
    await place("done", 1_000);
    await place("later", 5_000);
    await db.transaction().execute((trx) => repo.step(trx, "late", "StockReserved", 150, "2 units"));
    await db.transaction().execute((trx) => repo.finish(trx, "done", "CONFIRMED", 200));

    expect(await store.migrate("order", orderMigrations)).toEqual(["004_lean_indexes"]);

    expect((await repo.overdue(2_000)).map((o) => o.id)).toEqual(["late"]);
    expect((await repo.overdue(6_000)).map((o) => o.id)).toEqual(["late", "later"]);
    expect((await repo.get("late"))?.timeline).toEqual([
      { step: "OrderCreated", at: new Date(100).toISOString(), detail: null },
      { step: "StockReserved", at: new Date(150).toISOString(), detail: "2 units" },
    ]);
    expect((await repo.get("done"))?.timeline.map((s) => s.step)).toEqual(["OrderCreated", "OrderConfirmed"]);
    // A step is still recorded once.
    await db.transaction().execute((trx) => repo.step(trx, "late", "StockReserved", 999));
    expect((await repo.get("late"))?.timeline).toHaveLength(2);

    if (target.name === "sqlite") {
      const { sql: text, parameters } = db
        .selectFrom("ord_orders")
        .selectAll()
        .where("status", "=", sql.lit("PENDING"))
        .where("deadline_at", "<", 2_000)
        .orderBy("deadline_at")
        .compile();
      const plan = sqliteHandleOf(store)!
        .raw.prepare(`explain query plan ${text}`)
        .all(...(parameters as number[]))
        .map((row) => String((row as { detail: string }).detail));
      expect(plan.join(" | ")).toMatch(/USING INDEX ord_orders_pending_deadline \(deadline_at<\?\)/);
      await expect(sql`select rowid from ord_timeline`.execute(db)).rejects.toThrow(/no such column/);
    }
  });
});

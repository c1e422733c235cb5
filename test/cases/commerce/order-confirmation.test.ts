import type { Kysely } from "kysely";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { type OrderDb, orderMigrations } from "../../../src/cases/commerce/order/migrations.ts";
import { OrderRepository } from "../../../src/cases/commerce/order/order-repository.ts";
import type { Store } from "../../../src/platform/storage/index.ts";
import { storeTargets } from "../../support/stores.ts";

const targets = await storeTargets();

// PaymentProcessed and StockCommitted reach the order service on two topics, in either order, and on
// Postgres in two concurrent transactions. The order must be confirmed exactly once, and only when it
// knows both facts: never CONFIRMED with its payment still "none".
describe.each(targets)("order confirmation on $name", (target) => {
  const stores: Store[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(() => target.cleanup());

  async function setup() {
    const store = await target.open();
    stores.push(store);
    await store.migrate("order", orderMigrations);
    const db = store.db as Kysely<OrderDb>;
    const repo = new OrderRepository(db);
    const place = (id: string) =>
      db.transaction().execute((trx) =>
        repo.insert(trx, {
          id,
          accessTokenHash: "0".repeat(64),
          customerId: "c-1",
          items: [{ sku: "MOUSE-01", qty: 1 }],
          paymentToken: "tok_visa",
          now: 1,
          deadlineAt: 60_000,
        }),
      );
    const paid = (id: string) =>
      db.transaction().execute(async (trx) => {
        // As the service does: recording the fact locks the row and returns the other fact.
        const settlement = await repo.setPayment(trx, id, "captured", `ch-${id}`, 2);
        await repo.step(trx, id, "PaymentProcessed", 2);
        return repo.confirmIfSettled(trx, id, 2, settlement);
      });
    const committed = (id: string) =>
      db.transaction().execute(async (trx) => {
        const settlement = await repo.markStockCommitted(trx, id, 3);
        await repo.step(trx, id, "StockCommitted", 3);
        return repo.confirmIfSettled(trx, id, 3, settlement);
      });
    return { repo, place, paid, committed };
  }

  it("confirms on the second fact, whichever comes first", async () => {
    const { repo, place, paid, committed } = await setup();
    await place("o-pay-first");
    expect(await paid("o-pay-first")).toBe(false);
    expect((await repo.get("o-pay-first"))?.status).toBe("PENDING");
    expect(await committed("o-pay-first")).toBe(true);

    await place("o-stock-first");
    expect(await committed("o-stock-first")).toBe(false);
    expect((await repo.get("o-stock-first"))?.status).toBe("PENDING");
    expect(await paid("o-stock-first")).toBe(true);

    for (const id of ["o-pay-first", "o-stock-first"]) {
      const view = await repo.get(id);
      expect(view).toMatchObject({
        status: "CONFIRMED",
        payment: { state: "captured", chargeId: `ch-${id}` },
      });
      expect(view?.timeline.map((t) => t.step)).toEqual(
        expect.arrayContaining(["PaymentProcessed", "StockCommitted", "OrderConfirmed"]),
      );
    }
    // A redelivered fact after confirmation confirms nothing twice.
    expect(await paid("o-pay-first")).toBe(false);
  });

  it("confirms every order exactly once when both facts land at the same moment", async () => {
    const { repo, place, paid, committed } = await setup();
    const ids = Array.from({ length: 40 }, (_, i) => `o-race-${i}`);
    for (const id of ids) await place(id);
    const results = await Promise.all(ids.map((id) => Promise.all([paid(id), committed(id)])));
    for (const [i, [byPayment, byStock]] of results.entries()) {
      expect(Number(byPayment) + Number(byStock), ids[i]).toBe(1);
    }
    const counts = await repo.counts();
    expect(counts).toEqual({ CONFIRMED: ids.length });
  });

  it("upgrades orders placed before the stock fact had a column, from their timeline", async () => {
    const store = await target.open();
    stores.push(store);
    await store.migrate("order", orderMigrations.slice(0, 1));
    const db = store.db as Kysely<OrderDb>;
    for (const id of ["o-old-committed", "o-old-open"]) {
      await db
        .insertInto("ord_orders")
        // The row as the first schema had it, without stock_committed.
        .values({
          id,
          customer_id: "c-1",
          status: "PENDING",
          reason: null,
          items: "[]",
          total_cents: 100,
          payment_state: "none",
          charge_id: null,
          payment_token: "tok_visa",
          created_at: 1,
          updated_at: 1,
          deadline_at: 60_000,
          redrives: 0,
        } as never)
        .execute();
    }
    await db
      .insertInto("ord_timeline")
      .values({ order_id: "o-old-committed", step: "StockCommitted", at: 2, detail: null })
      .execute();
    expect(await store.migrate("order", orderMigrations)).toEqual([
      "002_stock_committed",
      "003_access_token",
      "004_lean_indexes",
    ]);
    const repo = new OrderRepository(db);
    expect((await repo.raw("o-old-committed"))?.stock_committed).toBe(1);
    expect((await repo.raw("o-old-open"))?.stock_committed).toBe(0);
    // The upgraded order confirms on its payment alone: its stock fact came through the timeline.
    const confirmed = await db.transaction().execute(async (trx) => {
      const settlement = await repo.setPayment(trx, "o-old-committed", "captured", "ch-old", 3);
      return repo.confirmIfSettled(trx, "o-old-committed", 3, settlement);
    });
    expect(confirmed).toBe(true);
  });
});

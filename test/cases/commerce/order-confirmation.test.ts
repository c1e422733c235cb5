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
          customerId: "c-1",
          items: [{ sku: "MOUSE-01", qty: 1 }],
          paymentToken: "tok_visa",
          now: 1,
          deadlineAt: 60_000,
        }),
      );
    const paid = (id: string) =>
      db.transaction().execute(async (trx) => {
        await repo.setPayment(trx, id, "captured", `ch-${id}`, 2);
        await repo.step(trx, id, "PaymentProcessed", 2);
        // As the service does: setPayment holds the row, so no separate lock.
        return repo.confirmIfSettled(trx, id, 2, true);
      });
    const committed = (id: string) =>
      db.transaction().execute(async (trx) => {
        await repo.step(trx, id, "StockCommitted", 3);
        return repo.confirmIfSettled(trx, id, 3, store.kind === "sqlite");
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
});

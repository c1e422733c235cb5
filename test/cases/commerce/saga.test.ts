import { afterAll, afterEach, describe, expect, it } from "vitest";
import { checkCommerce } from "../../../src/cases/commerce/checker.ts";
import { eventually, serviceAvailable } from "../../support/services.ts";
import { storeTargets } from "../../support/stores.ts";
import { checkout, commerceHarness } from "./harness.ts";

const targets = await storeTargets();
const natsUp = targets.some((t) => t.name === "postgres") ? await serviceAvailable("nats") : false;

describe.each(targets.filter((t) => t.name === "sqlite" || natsUp))("checkout saga on $name", (target) => {
  const harness = commerceHarness(target);
  afterEach(() => harness.stopAll());
  afterAll(() => target.cleanup());

  it("confirms a paid order: reserve, charge, commit, with the whole timeline", async () => {
    const { commerce, order, settled, store, gatewayStore } = await harness.start();
    const res = await order(checkout("MOUSE-01", 2), "k-happy");
    expect(res.status).toBe(202);
    const { orderId, status } = (await res.json()) as { orderId: string; status: string };
    expect(status).toBe("PENDING");
    const final = await settled(orderId);
    expect(final.status).toBe("CONFIRMED");
    expect(final.totalCents).toBe(2 * 2_999);
    expect(final.payment.state).toBe("captured");
    expect(final.timeline.map((t) => t.step)).toEqual(
      expect.arrayContaining(["OrderCreated", "StockReserved", "PaymentProcessed", "OrderConfirmed"]),
    );
    expect(await commerce.inventory.repository.stock("MOUSE-01")).toMatchObject({
      available: 98,
      reserved: 0,
      sold: 2,
    });
    const ledger = await commerce.gateway.ledger.all();
    expect(ledger.charges).toHaveLength(1);
    expect(ledger.charges[0]).toMatchObject({ amountCents: 5_998, reference: orderId, status: "succeeded" });
    const check = await checkCommerce(store, gatewayStore);
    expect(check).toMatchObject({ ok: true, orders: { CONFIRMED: 1 }, charges: { captured: 1 } });
  });

  it("cancels when stock is short, and when the card is declined (releasing the stock)", async () => {
    const { commerce, order, settled, store, gatewayStore } = await harness.start();
    const short = (await (await order(checkout("CONSOLE-PS5", 6), "k-short")).json()) as { orderId: string };
    expect(await settled(short.orderId)).toMatchObject({
      status: "CANCELLED",
      reason: "out-of-stock:CONSOLE-PS5",
    });

    const declined = (await (await order(checkout("CONSOLE-PS5", 1, "tok_decline"), "k-decl")).json()) as {
      orderId: string;
    };
    const final = await settled(declined.orderId);
    expect(final.status).toBe("CANCELLED");
    expect(final.reason).toMatch(/^payment-failed:card_declined/);
    await eventually(
      async () => (await commerce.inventory.repository.stock("CONSOLE-PS5"))!.available === 5,
      {
        message: "stock released",
      },
    );
    expect((await commerce.gateway.ledger.all()).charges.map((c) => c.status)).toEqual(["declined"]);
    expect((await checkCommerce(store, gatewayStore)).ok).toBe(true);
  });

  it("answers the same order for the same Idempotency-Key, and 400 without one", async () => {
    const { order } = await harness.start();
    const first = (await (await order(checkout("MOUSE-01"), "k-same")).json()) as { orderId: string };
    const again = await order(checkout("MOUSE-01"), "k-same");
    expect(again.status).toBe(202);
    expect(((await again.json()) as { orderId: string }).orderId).toBe(first.orderId);
    expect((await order(checkout("MOUSE-01"))).status).toBe(400);
    const bad = await order({ customerId: "c", items: [], payment: { token: "4242424242424242" } }, "k-bad");
    expect(bad.status).toBe(400);
    const fields = ((await bad.json()) as { errors: Array<{ field: string }> }).errors
      .map((e) => e.field)
      .sort();
    expect(fields).toEqual(["body.items", "body.payment.token"]);
  });

  it("with asyncSaga off, checks out in one synchronous call chain (the 'before' architecture)", async () => {
    const { order, commerce, store, gatewayStore } = await harness.start({ patterns: { asyncSaga: false } });
    const ok = await order(checkout("MOUSE-01", 2), "sync-1");
    expect(ok.status).toBe(201);
    const confirmed = (await ok.json()) as { orderId: string; status: string };
    expect(confirmed.status).toBe("CONFIRMED");
    const short = await order(checkout("CONSOLE-PS5", 9), "sync-2");
    expect(await short.json()).toMatchObject({ status: "CANCELLED", reason: "out-of-stock:CONSOLE-PS5" });
    const declined = await order(checkout("MONITOR-27", 1, "tok_decline"), "sync-3");
    expect(await declined.json()).toMatchObject({ status: "CANCELLED" });
    expect(await commerce.inventory.repository.stock("MOUSE-01")).toMatchObject({ sold: 2, reserved: 0 });
    expect(await commerce.inventory.repository.stock("MONITOR-27")).toMatchObject({
      available: 20,
      reserved: 0,
    });
    expect(await commerce.order.repository.counts()).toEqual({ CONFIRMED: 1, CANCELLED: 2 });
    // No events went anywhere: the chain did it all inside the requests.
    expect((await checkCommerce(store, gatewayStore)).ok).toBe(true);
  });

  it("with service keys set, the synchronous chain's internal routes refuse callers without one", async () => {
    const key = "commerce-service-key-0123";
    const { order, urls } = await harness.start({ patterns: { asyncSaga: false } }, { serviceKeys: [key] });
    const ok = await order(checkout("MOUSE-01"), "sync-keyed");
    expect(((await ok.json()) as { status: string }).status).toBe("CONFIRMED");
    const stranger = await fetch(`${urls.inventory}/internal/reservations/x`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ items: [{ sku: "MOUSE-01", qty: 1 }] }),
    });
    expect(stranger.status).toBe(401);
  });

  it("re-sends OrderCancelled for a paid, cancelled order until its refund arrives", async () => {
    const { order, settled, commerce, store, gatewayStore } = await harness.start({ sagaDeadlineMs: 300 });
    const { orderId } = (await (await order(checkout("MONITOR-27"), "k-lost-refund")).json()) as {
      orderId: string;
    };
    expect((await settled(orderId)).status).toBe("CONFIRMED");
    // As if the order had been cancelled after the charge and the refund's message was lost for good.
    await store.db
      .updateTable("ord_orders")
      .set({ status: "CANCELLED", reason: "lost-compensation", updated_at: 0 })
      .where("id", "=", orderId)
      .execute();
    await eventually(
      async () => (await commerce.order.repository.raw(orderId))?.payment_state === "refunded",
      {
        timeoutMs: 20_000,
        message: "the refund after the compensation re-drive",
      },
    );
    const charge = (await commerce.gateway.ledger.all()).charges.find((c) => c.reference === orderId)!;
    expect(charge.refundedCents).toBe(charge.amountCents);
    // The sold monitor went back on the shelf with the refund.
    expect(await commerce.inventory.repository.stock("MONITOR-27")).toMatchObject({ available: 20, sold: 0 });
    expect((await checkCommerce(store, gatewayStore)).ok).toBe(true);
  });

  it("re-drives a stuck saga and cancels an unpaid one after its re-drives, refunding nothing", async () => {
    // The gateway is down for good: payment can never finish, so the sweeper must end the saga.
    const { order, settled, commerce, store, gatewayStore } = await harness.start({
      sagaDeadlineMs: 300,
      maxRedrives: 1,
      gatewayFaults: { errorRate: 1 },
    });
    const { orderId } = (await (await order(checkout("MONITOR-27"), "k-stuck")).json()) as {
      orderId: string;
    };
    const final = await settled(orderId, 30_000);
    expect(final).toMatchObject({ status: "CANCELLED", reason: "saga-timeout" });
    expect(final.timeline.map((t) => t.step)).toContain("Redrive1");
    await eventually(
      async () => (await commerce.inventory.repository.stock("MONITOR-27"))!.available === 20,
      {
        message: "stock released after the timeout",
      },
    );
    expect((await commerce.gateway.ledger.all()).charges).toHaveLength(0);
    expect((await checkCommerce(store, gatewayStore)).ok).toBe(true);
  });
});

import { afterAll, afterEach, describe, expect, it } from "vitest";
import { CommerceConfigSchema } from "../../../src/cases/commerce/config.ts";
import { type Commerce, createCommerce } from "../../../src/cases/commerce/system.ts";
import { loadConfig } from "../../../src/platform/config/index.ts";
import type { Bus } from "../../../src/platform/messaging/index.ts";
import { createLogger, createMetricsRegistry } from "../../../src/platform/observability/index.ts";
import type { Store } from "../../../src/platform/storage/index.ts";
import { busFor } from "../../support/buses.ts";
import { eventually, serviceAvailable } from "../../support/services.ts";
import { storeTargets } from "../../support/stores.ts";

const targets = await storeTargets();
const natsUp = targets.some((t) => t.name === "postgres") ? await serviceAvailable("nats") : false;
const logger = createLogger({ level: process.env.BULWARK_TEST_LOG ?? "silent" });

describe.each(targets.filter((t) => t.name === "sqlite" || natsUp))("checkout saga on $name", (target) => {
  const running: Array<{ commerce: Commerce; bus: Bus; stores: Store[] }> = [];
  afterEach(async () => {
    for (const r of running.splice(0)) {
      await r.commerce.stop();
      await r.bus.close();
      for (const s of r.stores) await s.close();
    }
  });
  afterAll(() => target.cleanup());

  async function start(overrides: Record<string, unknown> = {}) {
    const config = loadConfig(CommerceConfigSchema, {
      env: {},
      overrides: {
        ports: { order: 0, inventory: 0, payment: 0, gateway: 0 },
        sweepIntervalMs: 200,
        ...overrides,
      },
    });
    const store = await target.open();
    const gatewayStore = await target.open();
    const { bus, sameStoreLog } = await busFor(store);
    const commerce = await createCommerce({
      config,
      store,
      gatewayStore,
      bus,
      ...(sameStoreLog ? { sameStoreLog } : {}),
      logger,
      registry: createMetricsRegistry(),
      admin: { enabled: true, token: "t".repeat(32) },
    });
    running.push({ commerce, bus, stores: [store, gatewayStore] });
    const urls = await commerce.listen();
    const order = (body: object, key?: string) =>
      fetch(`${urls.order}/orders`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(key ? { "idempotency-key": key } : {}) },
        body: JSON.stringify(body),
      });
    const status = async (orderId: string) =>
      (await (await fetch(`${urls.order}/orders/${orderId}`)).json()) as {
        status: string;
        reason: string | null;
        timeline: Array<{ step: string }>;
        totalCents: number | null;
        payment: { state: string };
      };
    const settled = (orderId: string) =>
      eventually(
        async () => {
          const s = await status(orderId);
          return s.status !== "PENDING" ? s : undefined;
        },
        { timeoutMs: 20_000, message: `order ${orderId} to settle` },
      );
    return { commerce, urls, order, status, settled };
  }

  const checkout = (sku: string, qty = 1, token = "tok_visa") => ({
    customerId: "c-1",
    items: [{ sku, qty }],
    payment: { token },
  });

  it("confirms a paid order: reserve, charge, commit, with the whole timeline", async () => {
    const { commerce, order, settled } = await start();
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
  });

  it("cancels when stock is short, and when the card is declined (releasing the stock)", async () => {
    const { commerce, order, settled } = await start();
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
  });

  it("answers the same order for the same Idempotency-Key, and 400 without one", async () => {
    const { order } = await start();
    const first = (await (await order(checkout("MOUSE-01"), "k-same")).json()) as { orderId: string };
    const again = await order(checkout("MOUSE-01"), "k-same");
    expect(again.status).toBe(202);
    expect(((await again.json()) as { orderId: string }).orderId).toBe(first.orderId);
    expect((await order(checkout("MOUSE-01"))).status).toBe(400);
    expect(
      (await order({ customerId: "c", items: [], payment: { token: "4242424242424242" } }, "k-bad")).status,
    ).toBe(400);
  });
});

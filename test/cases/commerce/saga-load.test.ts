import { afterAll, afterEach, describe, expect, it } from "vitest";
import { checkCommerce } from "../../../src/cases/commerce/checker.ts";
import { serviceAvailable } from "../../support/services.ts";
import { storeTargets } from "../../support/stores.ts";
import { checkout, commerceHarness, inParallel } from "./harness.ts";

const targets = await storeTargets();
const natsUp = targets.some((t) => t.name === "postgres") ? await serviceAvailable("nats") : false;

describe.each(targets.filter((t) => t.name === "sqlite" || natsUp))(
  "checkout under load on $name",
  (target) => {
    const harness = commerceHarness(target);
    afterEach(() => harness.stopAll());
    afterAll(() => target.cleanup());

    it("500 buyers race for 50 units: exactly 50 orders are confirmed", { timeout: 180_000 }, async () => {
      const { commerce, order, quiesce, store, gatewayStore } = await harness.start({ demoCatalog: false });
      await commerce.inventory.repository.upsertProduct({
        sku: "DEAL",
        name: "Doorbuster",
        priceCents: 1_000,
        stock: 50,
      });
      const responses = await inParallel(500, 50, async (i) => {
        const res = await order(checkout("DEAL", 1, "tok_visa", `buyer-${i}`), `race-${i}`);
        return res.status;
      });
      expect(responses.every((s) => s === 202)).toBe(true);
      await quiesce(150_000);
      const counts = await commerce.order.repository.counts();
      console.log(`${target.name}: 500 buyers for 50 units →`, counts);
      expect(counts.CONFIRMED).toBe(50);
      expect(counts.CANCELLED).toBe(450);
      expect(await commerce.inventory.repository.stock("DEAL")).toEqual({
        sku: "DEAL",
        available: 0,
        reserved: 0,
        sold: 50,
        received: 50,
      });
      const check = await checkCommerce(store, gatewayStore);
      expect(check.violations).toEqual([]);
      expect(check.charges.captured - check.charges.refunded).toBe(50);
    });

    it("100 retries of one request under gateway faults produce one order and one charge", {
      timeout: 120_000,
    }, async () => {
      const { commerce, order, settled, store, gatewayStore } = await harness.start({
        gatewayFaults: { errorRate: 0.5, lostResponseRate: 0.5, latencyMinMs: 0, latencyMaxMs: 20, seed: 3 },
        gatewayTimeoutMs: 1_000,
      });
      const body = checkout("KEYBOARD-01", 1, "tok_visa", "impatient");
      const statuses = await inParallel(100, 10, async () => (await order(body, "double-click")).status);
      // While the first is in flight, concurrent retries get 409; the rest replay the same 202.
      expect(statuses.every((s) => s === 202 || s === 409)).toBe(true);
      const ids = new Set<string>();
      for (let i = 0; i < 3; i++)
        ids.add(((await (await order(body, "double-click")).json()) as { orderId: string }).orderId);
      expect(ids.size).toBe(1);
      const orderId = [...ids][0]!;
      const final = await settled(orderId, 60_000);
      expect(final.status).toBe("CONFIRMED");
      const charges = (await commerce.gateway.ledger.all()).charges.filter((c) => c.reference === orderId);
      expect(charges.filter((c) => c.status === "succeeded")).toHaveLength(1);
      expect(await commerce.order.repository.counts()).toEqual({ CONFIRMED: 1 });
      // The faults did bite: the payment had to retry (or reconcile) at least once.
      expect(commerce.policies.for("payment-gateway").retry!.retries).toBeGreaterThan(0);
      expect((await checkCommerce(store, gatewayStore)).ok).toBe(true);
    });
  },
);

import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createGatewayService, type GatewayService } from "../../../src/cases/commerce/gateway/index.ts";
import { createLogger } from "../../../src/platform/observability/index.ts";
import type { Store } from "../../../src/platform/storage/index.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";
import { storeTargets } from "../../support/stores.ts";

const targets = await storeTargets();
const logger = createLogger({ level: "silent" });

describe.each(targets)("payment gateway simulator on $name", (target) => {
  const open: Array<{ store: Store; gateway: GatewayService }> = [];
  afterEach(async () => {
    for (const { store, gateway } of open.splice(0)) {
      await gateway.stop();
      await store.close();
    }
  });
  afterAll(() => target.cleanup());

  async function setup(options: Partial<Parameters<typeof createGatewayService>[0]> = {}) {
    const store = await target.open();
    const gateway = await createGatewayService({ store, logger, ...options });
    open.push({ store, gateway });
    const base = await gateway.listen();
    const charge = (
      key: string | undefined,
      body: object = { amountCents: 1999, currency: "usd", source: "tok_visa", reference: "order-1" },
    ) =>
      fetch(`${base}/charges`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(key ? { "idempotency-key": key } : {}) },
        body: JSON.stringify(body),
      });
    return { gateway, base, charge };
  }

  it("charges once per idempotency key and replays the same charge", async () => {
    const { gateway, charge } = await setup();
    const first = await charge("pay-1");
    expect(first.status).toBe(201);
    const created = (await first.json()) as { id: string; status: string };
    expect(created.status).toBe("succeeded");
    const again = await charge("pay-1");
    expect(again.status).toBe(201);
    expect(((await again.json()) as { id: string }).id).toBe(created.id);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect((await charge("pay-1", { amountCents: 5, currency: "usd", source: "tok_visa" })).status).toBe(422);
    expect((await charge(undefined)).status).toBe(400);
    expect((await gateway.ledger.all()).charges).toHaveLength(1);
  });

  it("refuses a raw card number as the source, naming the field", async () => {
    const { gateway, charge } = await setup();
    const res = await charge("pay-pan", { amountCents: 100, currency: "usd", source: "4242424242424242" });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errors: Array<{ field: string }> };
    expect(body.errors.map((e) => e.field)).toEqual(["body.source"]);
    expect((await gateway.ledger.all()).charges).toHaveLength(0);
  });

  it("declines without retry value: 402, recorded as declined, replayed as 402", async () => {
    const { gateway, charge } = await setup();
    const res = await charge("pay-d", { amountCents: 100, currency: "usd", source: "tok_decline" });
    expect(res.status).toBe(402);
    expect(((await res.json()) as { code: string }).code).toBe("card_declined");
    expect((await charge("pay-d", { amountCents: 100, currency: "usd", source: "tok_decline" })).status).toBe(
      402,
    );
    const { charges } = await gateway.ledger.all();
    expect(charges.map((c) => c.status)).toEqual(["declined"]);
  });

  it("fails with 503 before doing anything, so a retry with the same key charges once", async () => {
    const { gateway, charge } = await setup({ faults: { errorRate: 1 } });
    expect((await charge("pay-e")).status).toBe(503);
    expect((await gateway.ledger.all()).charges).toHaveLength(0);
    gateway.setFaults({ errorRate: 0 });
    expect((await charge("pay-e")).status).toBe(201);
    expect((await gateway.ledger.all()).charges).toHaveLength(1);
  });

  it("applies a charge and loses the response; the charge is found by its key and a retry replays it", async () => {
    const { gateway, base, charge } = await setup({ faults: { lostResponseRate: 1 } });
    await expect(charge("pay-lost")).rejects.toThrow();
    const { charges } = await gateway.ledger.all();
    expect(charges).toHaveLength(1);
    const lookup = await fetch(`${base}/charges?idempotencyKey=pay-lost`);
    expect(lookup.status).toBe(200);
    expect(((await lookup.json()) as { id: string }).id).toBe(charges[0]!.id);
    gateway.setFaults({ lostResponseRate: 0 });
    const retry = await charge("pay-lost");
    expect(((await retry.json()) as { id: string }).id).toBe(charges[0]!.id);
    expect((await gateway.ledger.all()).charges).toHaveLength(1);
    expect((await fetch(`${base}/charges?idempotencyKey=nope`)).status).toBe(404);
  });

  it("refunds at most what was charged", async () => {
    const { gateway, base, charge } = await setup();
    const { id } = (await (await charge("pay-r")).json()) as { id: string };
    const refund = (key: string, body: object) =>
      fetch(`${base}/refunds`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": key },
        body: JSON.stringify(body),
      });
    expect((await refund("ref-1", { chargeId: id, amountCents: 999 })).status).toBe(201);
    expect((await refund("ref-1", { chargeId: id, amountCents: 999 })).status).toBe(201); // replay
    expect((await refund("ref-2", { chargeId: id, amountCents: 1001 })).status).toBe(409);
    expect((await refund("ref-3", { chargeId: id })).status).toBe(201); // the remaining 1000
    expect((await refund("ref-4", { chargeId: `ch_${"0".repeat(32)}` })).status).toBe(404);
    const ledger = await gateway.ledger.all();
    expect(ledger.refunds.map((r) => r.amountCents)).toEqual([999, 1000]);
    expect(ledger.charges[0]!.refundedCents).toBe(1999);
  });

  it("delays processing by the configured latency on an injected clock", async () => {
    const clock = new FakeClock(Date.now());
    const { gateway } = await setup({ clock, faults: { slowRate: 1, slowMs: 3_000 } });
    let done = false;
    const pending = gateway.app
      .inject({
        method: "POST",
        url: "/charges",
        headers: { "idempotency-key": "pay-slow" },
        payload: { amountCents: 100, currency: "usd", source: "tok_visa" },
      })
      .then((r) => {
        done = true;
        return r;
      });
    await clock.advance(2_999);
    expect(done).toBe(false);
    expect((await gateway.ledger.all()).charges).toHaveLength(0);
    await clock.advance(1);
    expect((await pending).statusCode).toBe(201);
  });
});

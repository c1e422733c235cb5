import { CommerceConfigSchema } from "../../../src/cases/commerce/config.ts";
import { type Commerce, createCommerce } from "../../../src/cases/commerce/system.ts";
import { loadConfig } from "../../../src/platform/config/index.ts";
import type { Bus } from "../../../src/platform/messaging/index.ts";
import { createLogger, createMetricsRegistry } from "../../../src/platform/observability/index.ts";
import type { Store } from "../../../src/platform/storage/index.ts";
import { busFor } from "../../support/buses.ts";
import { eventually } from "../../support/services.ts";
import type { StoreTarget } from "../../support/stores.ts";

const logger = createLogger({ level: process.env.BULWARK_TEST_LOG ?? "silent" });

/** The admin token of the harness's services: it may read any order. */
export const ADMIN_TOKEN = "t".repeat(32);

export interface OrderStatusView {
  orderId: string;
  status: string;
  reason: string | null;
  timeline: Array<{ step: string }>;
  totalCents: number | null;
  payment: { state: string };
}

/** Runs the whole commerce case in-process on one store target; `stopAll` tears every started one down. */
export function commerceHarness(target: StoreTarget) {
  const running: Array<{ commerce: Commerce; bus: Bus; stores: Store[] }> = [];

  async function start(overrides: Record<string, unknown> = {}, extra: { serviceKeys?: string[] } = {}) {
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
      admin: { enabled: true, token: ADMIN_TOKEN },
      ...extra,
    });
    running.push({ commerce, bus, stores: [store, gatewayStore] });
    const urls = await commerce.listen();
    const order = (body: object, key?: string) =>
      fetch(`${urls.order}/orders`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(key ? { "idempotency-key": key } : {}) },
        body: JSON.stringify(body),
      });
    // The tests read every order as an operator; order-access.test.ts covers the customers' own tokens.
    const status = async (orderId: string) =>
      (await (
        await fetch(`${urls.order}/orders/${orderId}`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        })
      ).json()) as OrderStatusView;
    const settled = (orderId: string, timeoutMs = 20_000) =>
      eventually(
        async () => {
          const s = await status(orderId);
          return s.status !== "PENDING" ? s : undefined;
        },
        { timeoutMs, message: `order ${orderId} to settle` },
      );
    /** Waits until no order is PENDING and the outbox is empty. */
    const quiesce = (timeoutMs = 60_000) =>
      eventually(async () => (await commerce.order.repository.counts()).PENDING === undefined, {
        timeoutMs,
        intervalMs: 100,
        message: "every order to settle",
      });
    return { commerce, urls, order, status, settled, quiesce, store, gatewayStore };
  }

  async function stopAll() {
    for (const r of running.splice(0)) {
      await r.commerce.stop();
      await r.bus.close();
      for (const s of r.stores) await s.close();
    }
  }

  return { start, stopAll };
}

export const checkout = (sku: string, qty = 1, token = "tok_visa", customerId = "c-1") => ({
  customerId,
  items: [{ sku, qty }],
  payment: { token },
});

/** Runs `tasks` with at most `limit` in flight. */
export async function inParallel<T>(
  count: number,
  limit: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

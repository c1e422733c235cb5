import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { ServiceExtension } from "../../platform/http/index.ts";
import {
  type Bus,
  type EmbeddedLogDriver,
  Inbox,
  Outbox,
  OutboxRelay,
} from "../../platform/messaging/index.ts";
import { type DependencyPolicyConfig, ResiliencePolicies } from "../../platform/resilience/index.ts";
import { GroupCommit, type Store } from "../../platform/storage/index.ts";
import { type Clock, systemClock } from "../../platform/time/index.ts";
import type { CommerceConfig } from "./config.ts";
import type { CommerceContext } from "./context.ts";
import { commerceEventRegistry, PARTITIONS, TOPICS } from "./events.ts";
import { createGatewayService, type GatewayService } from "./gateway/index.ts";
import { createInventoryService, type InventoryService } from "./inventory/inventory-service.ts";
import { createOrderService, type OrderService } from "./order/order-service.ts";
import { GatewayClient, type PaymentGateway } from "./payment/gateway-client.ts";
import { createPaymentService, type PaymentService } from "./payment/payment-service.ts";
import { eventsOut } from "./saga/events-out.ts";

export const COMMERCE_ROLES = ["gateway", "inventory", "payment", "order"] as const;
export type CommerceRole = (typeof COMMERCE_ROLES)[number];

export interface CommerceDeps {
  config: CommerceConfig;
  /** Which services this process runs; all by default. Several processes can split them over one store. */
  roles?: readonly CommerceRole[];
  /** The merchant's database (orders, stock, payments, outbox, inbox). */
  store: Store;
  /** The simulated payment provider's own database: its ledger is the ground truth. Needed for the gateway role. */
  gatewayStore?: Store;
  bus: Bus;
  /** When the bus is the embedded log in `store`, events append to it inside the domain transactions. */
  sameStoreLog?: EmbeddedLogDriver;
  logger: Logger;
  registry: Registry;
  clock?: Clock;
  host?: string;
  admin?: { enabled: boolean; token?: string };
  /** Keys for service-to-service routes (the synchronous chain's internal calls). */
  serviceKeys?: readonly string[];
  /** Replaces the built-in payment-gateway resilience stack (from the app's `resilience` config). */
  gatewayPolicy?: DependencyPolicyConfig;
  /** Replaces the HTTP client of the payment gateway (the saga-efficiency bench's zero-cost stub). */
  gatewayClient?: PaymentGateway;
  extensions?: readonly ServiceExtension[];
}

export interface Commerce {
  order: OrderService;
  inventory: InventoryService;
  payment: PaymentService;
  gateway: GatewayService;
  /** The services this process runs, by role. */
  running: Partial<Record<CommerceRole, import("../../platform/http/index.ts").Service>>;
  relay: OutboxRelay;
  policies: ResiliencePolicies;
  /** Base URL of each service once listening. */
  urls: Record<string, string>;
  listen(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

export const DEMO_CATALOG = [
  { sku: "KEYBOARD-01", name: "Mechanical keyboard", priceCents: 8_999, stock: 50 },
  { sku: "MOUSE-01", name: "Wireless mouse", priceCents: 2_999, stock: 100 },
  { sku: "MONITOR-27", name: "27-inch monitor", priceCents: 27_900, stock: 20 },
  { sku: "CONSOLE-PS5", name: "Game console (Black Friday deal)", priceCents: 39_900, stock: 5 },
];

/** The payment-gateway stack: retry with full jitter, a breaker and a per-attempt timeout. */
export function gatewayPolicyConfig(config: CommerceConfig): DependencyPolicyConfig {
  return {
    retry: config.patterns.retries
      ? { maxAttempts: 4, backoff: "full-jitter", initialMs: 50, capMs: 1_000, respectRetryAfter: true }
      : false,
    breaker: {
      window: { kind: "count", size: 20, failureRate: 0.5, minimumCalls: 10 },
      openMs: 2_000,
      halfOpenProbes: 2,
    },
    timeout: { ms: config.gatewayTimeoutMs },
  };
}

/** Builds the commerce case: gateway simulator, order, inventory and payment services, and the outbox relay. */
export async function createCommerce(deps: CommerceDeps): Promise<Commerce> {
  const { config } = deps;
  const clock = deps.clock ?? systemClock;
  const admin = deps.admin ?? { enabled: false };
  const host = deps.host ?? "127.0.0.1";
  for (const name of Object.values(TOPICS)) await deps.bus.declareTopic({ name, partitions: PARTITIONS });
  await Outbox.migrate(deps.store);
  // On the embedded profile the log is in this same store: events append to it in the domain transaction.
  const outbox = new Outbox({
    registry: commerceEventRegistry(),
    clock,
    ...(deps.sameStoreLog ? { log: deps.sameStoreLog } : {}),
  });
  let relay: OutboxRelay | undefined;
  const urls: Record<string, string> = {};
  // Log rows go to this process's readers in commit order (see GroupCommit's `committed`); events-out's
  // own hand-over after each unit then finds nothing left to hand.
  const units = new GroupCommit(
    deps.store,
    deps.sameStoreLog ? { committed: (trx) => outbox.handOff(trx) } : {},
  );
  const ctx: CommerceContext = {
    config,
    store: deps.store,
    bus: deps.bus,
    inbox: new Inbox(deps.store, { clock, units }),
    units,
    events: eventsOut({
      outbox,
      bus: deps.bus,
      useOutbox: config.patterns.outbox,
      committed: (_events, trx) => {
        if (deps.sameStoreLog) outbox.handOff(trx);
        else relay?.wake();
      },
    }),
    // Measured (bench/commerce.ts, saga in process): on Postgres + JetStream 16 orders at once per partition
    // raised throughput from 75 to 83–90 orders/s; on the embedded log it lowered it from 221 to 139, since
    // every handler queues on the one SQLite connection anyway.
    keyConcurrency: deps.sameStoreLog ? 1 : 16,
    clock,
    logger: deps.logger,
    registry: deps.registry,
    http: { host },
    admin,
    extensions: deps.extensions ?? [],
    serviceKeys: deps.serviceKeys ?? [],
    peerUrl: (name) => urls[name] ?? `http://${host}:${config.ports[name]}`,
  };
  const policies = new ResiliencePolicies(
    { "payment-gateway": deps.gatewayPolicy ?? gatewayPolicyConfig(config) },
    { registry: deps.registry, logger: deps.logger, clock },
  );
  const roles = new Set<CommerceRole>(deps.roles ?? COMMERCE_ROLES);
  let gateway: GatewayService | undefined;
  if (roles.has("gateway")) {
    if (!deps.gatewayStore) throw new Error("the gateway role needs its own store (gatewayStore)");
    gateway = await createGatewayService({
      store: deps.gatewayStore,
      logger: deps.logger,
      registry: deps.registry,
      http: { host, port: config.ports.gateway },
      admin,
      faults: config.gatewayFaults,
      clock,
      extensions: ctx.extensions,
    });
  }
  const client =
    deps.gatewayClient ??
    new GatewayClient({
      get baseUrl() {
        return config.gatewayUrl ?? urls.gateway ?? `http://${host}:${config.ports.gateway}`;
      },
      policy: policies.for("payment-gateway"),
      idempotency: config.patterns.idempotency,
      reconciliation: config.patterns.reconciliation,
      timeoutMs: config.gatewayTimeoutMs,
    });
  // Every role migrates every commerce table, so any process can start first.
  const order = await createOrderService(ctx);
  const inventory = await createInventoryService(ctx);
  const payment = await createPaymentService(ctx, client);
  relay = new OutboxRelay({
    store: deps.store,
    bus: deps.bus,
    ...(deps.sameStoreLog ? { sameStoreLog: deps.sameStoreLog } : {}),
    clock,
    onError: (err) => deps.logger.warn({ err }, "outbox relay failed; will retry"),
  });
  if (roles.has("inventory") && config.demoCatalog && (await inventory.repository.products()).length === 0) {
    for (const product of DEMO_CATALOG) await inventory.repository.upsertProduct(product);
  }
  const running: Commerce["running"] = {};
  if (gateway) running.gateway = gateway;
  if (roles.has("inventory")) running.inventory = inventory.service;
  if (roles.has("payment")) running.payment = payment.service;
  if (roles.has("order")) running.order = order.service;
  // The synchronous "before" chain has no consumers and no sweepers: nothing drives a broken order on.
  const workers = !config.patterns.asyncSaga
    ? []
    : [
        ...(roles.has("order") ? [order.workers] : []),
        ...(roles.has("inventory") ? [inventory.workers] : []),
        ...(roles.has("payment") ? [payment.workers] : []),
      ];
  let stopping: Promise<void> | undefined;
  return {
    order,
    inventory,
    payment,
    get gateway(): GatewayService {
      if (!gateway) throw new Error("this process does not run the gateway role");
      return gateway;
    },
    running,
    relay,
    policies,
    urls,
    async listen() {
      for (const [role, service] of Object.entries(running)) urls[role] = await service.listen();
      relay.start();
      for (const w of workers) w.start();
      return urls;
    },
    stop() {
      stopping ??= (async () => {
        const services = Object.values(running);
        await Promise.all(services.filter((s) => s !== gateway).map((s) => s.stop()));
        await Promise.all(workers.map((w) => w.stop()));
        await relay.stop();
        await gateway?.stop();
      })();
      return stopping;
    },
  };
}

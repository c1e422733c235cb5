import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { createService, type Service, type ServiceExtension } from "../../platform/http/index.ts";
import type { Bus, Inbox } from "../../platform/messaging/index.ts";
import type { GroupCommit, Store } from "../../platform/storage/index.ts";
import type { Clock } from "../../platform/time/index.ts";
import type { CommerceConfig } from "./config.ts";
import type { EventsOut } from "./saga/events-out.ts";

/** What every commerce service is built from. The composition root decides the adapters behind it. */
export interface CommerceContext {
  config: CommerceConfig;
  store: Store;
  bus: Bus;
  inbox: Inbox;
  /** Every saga transaction goes through it: on SQLite, concurrent ones share a commit. */
  units: GroupCommit;
  events: EventsOut;
  /** Orders of one partition handled side by side by each consumer (see subscribeEvents). */
  keyConcurrency: number;
  clock: Clock;
  logger: Logger;
  registry: Registry;
  http: { host: string };
  admin: { enabled: boolean; token?: string };
  extensions: readonly ServiceExtension[];
  /** API keys service-to-service routes accept; the first is the one this service presents to its peers. */
  serviceKeys: readonly string[];
  /** Base URL of a peer commerce service (the synchronous "before" chain calls them over HTTP). */
  peerUrl(name: "inventory" | "payment"): string;
}

/** A commerce service: its HTTP side, plus the event consumers and sweepers that run beside it. */
export interface Worker {
  start(): void;
  stop(): Promise<void>;
}

/** Runs `tick` every `intervalMs` on the context's clock until stopped; a failing tick is logged, not fatal. */
export function sweeper(ctx: CommerceContext, name: string, tick: () => Promise<unknown>): Worker {
  let timer: { cancel(): void } | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = true;
  const schedule = () => {
    timer = ctx.clock.setTimeout(() => {
      running = tick()
        .catch((err) => ctx.logger.warn({ err, sweeper: name }, "sweep failed; will retry"))
        .finally(() => {
          if (!stopped) schedule();
        });
    }, ctx.config.sweepIntervalMs);
  };
  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      timer?.cancel();
      await running;
    },
  };
}

/** A commerce service on the service kit, on its configured port, ready only while its store answers. */
export function commerceService(ctx: CommerceContext, name: "order" | "inventory" | "payment"): Service {
  return createService({
    name,
    logger: ctx.logger,
    registry: ctx.registry,
    http: { host: ctx.http.host, port: ctx.config.ports[name] },
    admin: ctx.admin,
    extensions: ctx.extensions,
    serviceKeys: [...ctx.serviceKeys],
    shutdown: { readinessGraceMs: 0 },
    readiness: { store: () => ctx.store.ping() },
  });
}

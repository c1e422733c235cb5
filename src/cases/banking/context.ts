import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { createService, type Service, type ServiceExtension } from "../../platform/http/index.ts";
import type { Store } from "../../platform/storage/index.ts";
import type { Clock } from "../../platform/time/index.ts";
import type { BankingConfig } from "./config.ts";

export const BANKING_ROLES = ["auth", "accounts", "history", "mobile", "gateway"] as const;
export type BankingRole = (typeof BANKING_ROLES)[number];

/** What every banking service is built from. The composition root decides the adapters behind it. */
export interface BankingContext {
  config: BankingConfig;
  /** The banking database: auth's tables and the ledger, each owned by one service. */
  store: Store;
  clock: Clock;
  logger: Logger;
  registry: Registry;
  http: { host: string };
  admin: { enabled: boolean; token?: string };
  extensions: readonly ServiceExtension[];
  /** API keys service-to-service routes accept; the first is the one this service presents to its peers. */
  serviceKeys: readonly string[];
  /** Base URL of a peer banking service (the one this process started, or its configured port). */
  peerUrl(name: BankingRole): string;
}

/** A banking service on the service kit, on its configured port, ready only while its store answers. */
export function bankingService(
  ctx: BankingContext,
  name: BankingRole,
  readiness: Record<string, () => Promise<unknown>> = { store: () => ctx.store.ping() },
): Service {
  return createService({
    name,
    logger: ctx.logger,
    registry: ctx.registry,
    http: { host: ctx.http.host, port: ctx.config.ports[name] },
    admin: ctx.admin,
    extensions: ctx.extensions,
    serviceKeys: [...ctx.serviceKeys],
    shutdown: { readinessGraceMs: 0 },
    readiness,
  });
}

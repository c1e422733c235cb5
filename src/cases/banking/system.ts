import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Service, ServiceExtension } from "../../platform/http/index.ts";
import type { Bus } from "../../platform/messaging/index.ts";
import type { RateLimitStore } from "../../platform/resilience/index.ts";
import type { Store } from "../../platform/storage/index.ts";
import { type Clock, systemClock } from "../../platform/time/index.ts";
import { type AccountsService, createAccountsService } from "./accounts/accounts-service.ts";
import { type AuthService, createAuthService } from "./auth/auth-service.ts";
import { ResilientAuthenticator } from "./clients/authenticator.ts";
import { OutgoingCalls } from "./clients/outgoing.ts";
import type { BankingConfig } from "./config.ts";
import { BANKING_ROLES, type BankingContext, type BankingRole } from "./context.ts";
import { seedDemoData } from "./demo-data.ts";
import { createGatewayService, type GatewayService } from "./gateway/gateway-service.ts";
import { createHistoryService, type HistoryService } from "./history/history-service.ts";
import { createMobileService, type MobileService } from "./mobile/mobile-service.ts";
import type { Authenticator } from "./principal.ts";

export { BANKING_ROLES, type BankingRole } from "./context.ts";

export interface BankingDeps {
  config: BankingConfig;
  /** Which services this process runs; all by default. Several processes can split them over one store. */
  roles?: readonly BankingRole[];
  /** The banking database (customers, clients, keys, revocations, and the ledger). */
  store: Store;
  bus?: Bus;
  logger: Logger;
  registry: Registry;
  clock?: Clock;
  host?: string;
  admin?: { enabled: boolean; token?: string };
  extensions?: readonly ServiceExtension[];
  /** Keys for service-to-service routes (introspect, revoke, profile); the first is presented to peers. */
  serviceKeys?: readonly string[];
  /**
   * How accounts, history, the BFF and the gateway check bearer tokens; by default the resilient one of
   * `clients/` (online introspection, local JWT verification as the fallback), following `config.patterns`.
   */
  authenticator?: Authenticator;
  /** The gateway's per-client rate-limit state: in memory (embedded) or Redis (distributed). */
  rateLimitStore?: RateLimitStore;
  /**
   * The token signing key as a private JWK (JSON) or PKCS#8 PEM, from a secret. Without it, auth generates
   * one at first start and keeps it in its store (development only).
   */
  signingKey?: string;
}

export interface Banking {
  /** The services this process runs, by role. */
  running: Partial<Record<BankingRole, Service>>;
  auth?: AuthService;
  accounts?: AccountsService;
  history?: HistoryService;
  mobile?: MobileService;
  gateway?: GatewayService;
  /** Every outgoing call of this process's services (their breakers, bulkheads, retries). */
  calls: OutgoingCalls;
  authenticator: Authenticator;
  /** Base URL of each service once listening. */
  urls: Record<string, string>;
  listen(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

/** Builds the banking case: auth, accounts, history, the mobile BFF and the edge gateway, for the given roles. */
export async function createBanking(deps: BankingDeps): Promise<Banking> {
  const { config } = deps;
  const clock = deps.clock ?? systemClock;
  const host = deps.host ?? "127.0.0.1";
  const urls: Record<string, string> = {};
  const ctx: BankingContext = {
    config,
    store: deps.store,
    clock,
    logger: deps.logger,
    registry: deps.registry,
    http: { host },
    admin: deps.admin ?? { enabled: false },
    extensions: deps.extensions ?? [],
    serviceKeys: deps.serviceKeys ?? [],
    peerUrl: (name) => urls[name] ?? `http://${host}:${config.ports[name]}`,
  };
  const roles = new Set<BankingRole>(deps.roles ?? BANKING_ROLES);
  const calls = new OutgoingCalls({
    config,
    baseUrl: (dependency) => ctx.peerUrl(dependency),
    ...(ctx.serviceKeys[0] ? { serviceKey: ctx.serviceKeys[0] } : {}),
    registry: deps.registry,
    logger: deps.logger,
    clock,
  });
  const resilient = deps.authenticator
    ? undefined
    : new ResilientAuthenticator({ config, calls, clock, logger: deps.logger, registry: deps.registry });
  const authenticator: Authenticator = deps.authenticator ?? resilient!;
  const running: Banking["running"] = {};
  const banking: Banking = {
    running,
    urls,
    calls,
    authenticator,
    async listen() {
      for (const [role, service] of Object.entries(running)) urls[role] = await service.listen();
      // Keys and revocations for the local fallback; auth may be another process, so this keeps trying.
      if (Object.keys(running).some((r) => r !== "auth")) await resilient?.start();
      return urls;
    },
    async stop() {
      await resilient?.stop();
      await Promise.all(Object.values(running).map((s) => s.stop()));
    },
  };
  if (roles.has("auth")) {
    banking.auth = await createAuthService(
      ctx,
      deps.signingKey === undefined ? {} : { signingKey: deps.signingKey },
    );
    running.auth = banking.auth.service;
  }
  if (roles.has("accounts")) {
    banking.accounts = await createAccountsService(ctx, authenticator);
    running.accounts = banking.accounts.service;
  }
  if (roles.has("history")) {
    banking.history = await createHistoryService(ctx, authenticator);
    running.history = banking.history.service;
  }
  if (roles.has("mobile")) {
    banking.mobile = createMobileService(ctx, { calls, authenticator });
    running.mobile = banking.mobile.service;
  }
  if (roles.has("gateway")) {
    banking.gateway = createGatewayService(ctx, {
      calls,
      authenticator,
      ...(deps.rateLimitStore ? { rateLimitStore: deps.rateLimitStore } : {}),
    });
    running.gateway = banking.gateway.service;
  }
  if (config.demoData && (roles.has("auth") || roles.has("accounts"))) await seedDemoData(ctx);
  return banking;
}

import { type Static, Type } from "@sinclair/typebox";
import { Section } from "../../platform/config/index.ts";

const Switch = (description: string) => Type.Boolean({ default: true, description });
const Port = (port: number) => Type.Integer({ minimum: 0, maximum: 65535, default: port });

/**
 * The banking case's settings. Every resilience pattern is a switch, so the lab can turn each one off and
 * reproduce the "before" architecture (the cascade of the seed article).
 */
export const BankingConfigSchema = Section({
  enabled: Type.Boolean({ default: true, description: "start the banking services with the system" }),
  patterns: Section({
    timeouts: Switch("a deadline on every outgoing call, propagated to the callee (off: wait forever)"),
    breakers: Switch("a circuit breaker per dependency (off: keep calling a failing dependency)"),
    fallbacks: Switch(
      "degraded answers: local JWT check, last known balance, /mobile/home without a section (off: fail)",
    ),
    bulkheads: Switch("a concurrency limit per downstream in the BFF and the gateway (off: one shared pool)"),
    retryBudget: Switch("retries only for idempotent calls and within a budget (off: retry every call)"),
    rateLimit: Switch("per-client GCRA rate limit at the gateway (off: no limit)"),
    loadShedding: Switch("503 + Retry-After at the gateway when the event loop lags (off: queue everything)"),
  }),
  ports: Section({
    auth: Port(3101),
    accounts: Port(3102),
    history: Port(3103),
    mobile: Port(3104),
    gateway: Port(3105),
  }),
  tokenTtlSeconds: Type.Integer({ minimum: 10, default: 300, description: "lifetime of an issued JWT" }),
  callTimeoutMs: Type.Integer({
    minimum: 10,
    default: 300,
    description: "deadline of one outgoing call when the caller has no tighter one",
  }),
  authCheckTimeoutMs: Type.Integer({
    minimum: 5,
    default: 50,
    description:
      "deadline of one online token check against auth before the caller verifies the token locally; tight because it sits on every request's path",
  }),
  mobileDeadlineMs: Type.Integer({
    minimum: 50,
    default: 800,
    description: "/mobile/home answers within this, degraded if a section is late",
  }),
  rateLimit: Section({
    perSecond: Type.Number({
      exclusiveMinimum: 0,
      default: 50,
      description: "sustained requests/s per client",
    }),
    burst: Type.Integer({ minimum: 1, default: 100, description: "requests a client may send at once" }),
  }),
  loadShedLagMs: Type.Integer({
    minimum: 1,
    default: 200,
    description: "event-loop lag above which the gateway sheds with 503",
  }),
  idempotencyLockMs: Type.Integer({
    minimum: 100,
    default: 2_000,
    description:
      "a transfer's Idempotency-Key left in flight this long (its process died) may be taken over by a retry",
  }),
  demoData: Type.Boolean({
    default: true,
    description: "seed demo customers and accounts when the store is empty",
  }),
});

export type BankingConfig = Static<typeof BankingConfigSchema>;

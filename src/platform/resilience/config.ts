import { type Static, Type } from "@sinclair/typebox";

const Ms = (description: string) => Type.Number({ minimum: 0, description });
const Rate = (description: string) => Type.Number({ exclusiveMinimum: 0, maximum: 1, description });

export const RetryBudgetConfigSchema = Type.Object(
  {
    ratio: Type.Number({ minimum: 0, description: "retries allowed as a fraction of calls, e.g. 0.1" }),
    minPerSecond: Type.Optional(
      Type.Number({ minimum: 0, description: "retries always allowed per second" }),
    ),
    windowMs: Type.Optional(Ms("sliding window of the budget")),
  },
  { additionalProperties: false },
);

export const RetryConfigSchema = Type.Object(
  {
    maxAttempts: Type.Integer({ minimum: 1, description: "attempts in total, the first included" }),
    backoff: Type.Optional(
      Type.Union([
        Type.Literal("constant"),
        Type.Literal("exponential"),
        Type.Literal("full-jitter"),
        Type.Literal("decorrelated-jitter"),
      ]),
    ),
    initialMs: Type.Optional(Ms("first delay (the constant delay for 'constant')")),
    factor: Type.Optional(Type.Number({ minimum: 1, description: "growth per retry" })),
    capMs: Type.Optional(Ms("largest delay")),
    deadlineMs: Type.Optional(Ms("bound on the whole call, attempts and waits together")),
    respectRetryAfter: Type.Optional(Type.Boolean()),
    budget: Type.Optional(Type.Union([Type.Literal(false), RetryBudgetConfigSchema])),
  },
  { additionalProperties: false },
);

const RateWindow = {
  failureRate: Rate("failure rate at or above which the circuit opens"),
  slowCallRate: Type.Optional(Rate("slow-call rate at or above which the circuit opens")),
  minimumCalls: Type.Optional(Type.Integer({ minimum: 1 })),
};

export const BreakerWindowSchema = Type.Union([
  Type.Object(
    { kind: Type.Literal("consecutive"), threshold: Type.Integer({ minimum: 1 }) },
    { additionalProperties: false },
  ),
  Type.Object(
    { kind: Type.Literal("count"), size: Type.Integer({ minimum: 1 }), ...RateWindow },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal("time"),
      windowMs: Type.Number({ exclusiveMinimum: 0 }),
      buckets: Type.Optional(Type.Integer({ minimum: 1 })),
      ...RateWindow,
    },
    { additionalProperties: false },
  ),
]);

export const BreakerConfigSchema = Type.Object(
  {
    window: Type.Optional(BreakerWindowSchema),
    slowCallMs: Type.Optional(Ms("a call slower than this counts as slow")),
    openMs: Type.Optional(Ms("how long the circuit stays open before probing")),
    halfOpenProbes: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);

export const TimeoutConfigSchema = Type.Object(
  {
    ms: Type.Number({ exclusiveMinimum: 0, description: "per-attempt budget" }),
    strategy: Type.Optional(Type.Union([Type.Literal("cooperative"), Type.Literal("aggressive")])),
  },
  { additionalProperties: false },
);

export const AdaptiveLimitConfigSchema = Type.Object(
  {
    initial: Type.Optional(Type.Integer({ minimum: 1 })),
    min: Type.Optional(Type.Integer({ minimum: 1 })),
    max: Type.Optional(Type.Integer({ minimum: 1 })),
    backoffRatio: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 })),
    latencyThresholdMs: Type.Optional(Ms("a call slower than this shrinks the limit")),
  },
  { additionalProperties: false },
);

export const BulkheadConfigSchema = Type.Object(
  {
    maxConcurrent: Type.Integer({ minimum: 1 }),
    maxQueue: Type.Optional(Type.Integer({ minimum: 0 })),
    queueTimeoutMs: Type.Optional(Ms("longest wait for a slot")),
    adaptive: Type.Optional(Type.Union([Type.Literal(false), AdaptiveLimitConfigSchema])),
  },
  { additionalProperties: false },
);

export const HedgeConfigSchema = Type.Object(
  {
    delayMs: Ms("start another attempt after this long without an answer"),
    maxHedges: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);

const Switchable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Optional(Type.Union([Type.Literal(false), schema]));

/**
 * The resilience stack of one named dependency. Each pattern is off when absent or `false`, so the lab
 * can switch them one by one. The stack is always, outermost first: retry, breaker, hedge, timeout,
 * bulkhead (the timeout covers the wait for a bulkhead slot).
 */
export const DependencyPolicyConfigSchema = Type.Object(
  {
    retry: Switchable(RetryConfigSchema),
    breaker: Switchable(BreakerConfigSchema),
    hedge: Switchable(HedgeConfigSchema),
    timeout: Switchable(TimeoutConfigSchema),
    bulkhead: Switchable(BulkheadConfigSchema),
  },
  { additionalProperties: false },
);

/** Dependency name → stack. The name `default` serves dependencies without an entry of their own. */
export const ResilienceConfigSchema = Type.Record(Type.String(), DependencyPolicyConfigSchema);

export type RetryConfig = Static<typeof RetryConfigSchema>;
export type BreakerConfig = Static<typeof BreakerConfigSchema>;
export type TimeoutConfig = Static<typeof TimeoutConfigSchema>;
export type BulkheadConfig = Static<typeof BulkheadConfigSchema>;
export type HedgeConfig = Static<typeof HedgeConfigSchema>;
export type DependencyPolicyConfig = Static<typeof DependencyPolicyConfigSchema>;
export type ResilienceConfig = Static<typeof ResilienceConfigSchema>;

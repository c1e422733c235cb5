export {
  type BreakerState,
  type BreakerStateChange,
  type BreakerWindow,
  type CircuitBreakerOptions,
  CircuitBreakerPolicy,
  circuitBreaker,
} from "./breaker/breaker.ts";
export { BreakerRegistry, type BreakerRegistryOptions } from "./breaker/registry.ts";
export { AimdLimit, type AimdOptions } from "./bulkhead/aimd.ts";
export { type BulkheadOptions, BulkheadPolicy, bulkhead } from "./bulkhead/bulkhead.ts";
export type { CallContext, ExecuteOptions } from "./call.ts";
export { CoarseClock } from "./coarse-clock.ts";
export {
  AdaptiveLimitConfigSchema,
  type BreakerConfig,
  BreakerConfigSchema,
  BreakerWindowSchema,
  type BulkheadConfig,
  BulkheadConfigSchema,
  type DependencyPolicyConfig,
  DependencyPolicyConfigSchema,
  type HedgeConfig,
  HedgeConfigSchema,
  type ResilienceConfig,
  ResilienceConfigSchema,
  RetryBudgetConfigSchema,
  type RetryConfig,
  RetryConfigSchema,
  type TimeoutConfig,
  TimeoutConfigSchema,
} from "./config.ts";
export * from "./errors.ts";
export { type FallbackOptions, FallbackPolicy, fallback } from "./fallback.ts";
export { type HedgeOptions, HedgePolicy, hedge } from "./hedge.ts";
export { type LoadShedOptions, loadShedPlugin } from "./load-shed.ts";
export type { CollectedMetric, MetricsRegistryLike } from "./metrics.ts";
export {
  createPolicies,
  type DependencyPolicy,
  type LoggerLike,
  type PoliciesOptions,
  ResiliencePolicies,
} from "./policies.ts";
export { noop, type Operation, type Policy } from "./policy.ts";
export { gcra, gcraParams, type RateLimitDecision, type RateLimitPolicy } from "./rate-limit/gcra.ts";
export { rateLimitHeader, rateLimitPolicyHeader, retryAfterSeconds } from "./rate-limit/headers.ts";
export { type RateLimitPluginOptions, rateLimitPlugin } from "./rate-limit/plugin.ts";
export {
  GCRA_LUA,
  type RedisLike,
  RedisRateLimitStore,
  type RedisStoreOptions,
} from "./rate-limit/redis-store.ts";
export { MemoryRateLimitStore, type MemoryStoreOptions, type RateLimitStore } from "./rate-limit/store.ts";
export {
  type Backoff,
  constantBackoff,
  decorrelatedJitterBackoff,
  type ExponentialOptions,
  exponentialBackoff,
  fullJitterBackoff,
} from "./retry/backoff.ts";
export { RetryBudget, type RetryBudgetOptions } from "./retry/budget.ts";
export { type GiveUpReason, type RetryEvent, type RetryOptions, RetryPolicy, retry } from "./retry/retry.ts";
export { parseRetryAfter, retryAfterOf } from "./retry/retry-after.ts";
export { type TimeoutOptions, TimeoutPolicy, timeout } from "./timeout.ts";
export { TimerWheel } from "./timer-wheel.ts";
export { ComposedPolicy, wrap } from "./wrap.ts";

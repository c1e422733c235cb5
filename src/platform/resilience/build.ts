import type { Clock } from "../time/index.ts";
import { CircuitBreakerPolicy } from "./breaker/breaker.ts";
import { BulkheadPolicy } from "./bulkhead/bulkhead.ts";
import type { BreakerConfig, BulkheadConfig, HedgeConfig, RetryConfig, TimeoutConfig } from "./config.ts";
import { HedgePolicy } from "./hedge.ts";
import {
  type Backoff,
  constantBackoff,
  decorrelatedJitterBackoff,
  exponentialBackoff,
  fullJitterBackoff,
} from "./retry/backoff.ts";
import { RetryBudget } from "./retry/budget.ts";
import { RetryPolicy } from "./retry/retry.ts";
import { TimeoutPolicy } from "./timeout.ts";

/** Builders from config sections to policies; each takes the dependency name and the shared clock. */

function backoffOf(c: RetryConfig): Backoff {
  const o = { initialMs: c.initialMs, factor: c.factor, capMs: c.capMs };
  switch (c.backoff ?? "full-jitter") {
    case "constant":
      return constantBackoff(c.initialMs ?? 0);
    case "exponential":
      return exponentialBackoff(o);
    case "decorrelated-jitter":
      return decorrelatedJitterBackoff(o);
    default:
      return fullJitterBackoff(o);
  }
}

export function buildRetry(name: string, c: RetryConfig, clock: Clock): RetryPolicy {
  const budget = c.budget ? new RetryBudget({ ...c.budget, clock }) : undefined;
  return new RetryPolicy({
    name,
    clock,
    maxAttempts: c.maxAttempts,
    backoff: backoffOf(c),
    deadlineMs: c.deadlineMs,
    respectRetryAfter: c.respectRetryAfter,
    budget,
  });
}

export function buildBreaker(name: string, c: BreakerConfig, clock: Clock): CircuitBreakerPolicy {
  return new CircuitBreakerPolicy({ name, clock, ...c });
}

export function buildHedge(name: string, c: HedgeConfig, clock: Clock): HedgePolicy {
  return new HedgePolicy({ name, clock, ...c });
}

export function buildTimeout(name: string, c: TimeoutConfig, clock: Clock): TimeoutPolicy {
  return new TimeoutPolicy({ name, clock, ...c });
}

export function buildBulkhead(name: string, c: BulkheadConfig, clock: Clock): BulkheadPolicy {
  const { adaptive, ...rest } = c;
  return new BulkheadPolicy({ name, clock, ...rest, adaptive: adaptive || undefined });
}

const BRAND = Symbol.for("bulwark.resilience.error");

export type ResilienceErrorCode =
  | "BWK_ERR_RESILIENCE_CIRCUIT_OPEN"
  | "BWK_ERR_RESILIENCE_BULKHEAD_FULL"
  | "BWK_ERR_RESILIENCE_QUEUE_TIMEOUT"
  | "BWK_ERR_RESILIENCE_TIMEOUT"
  | "BWK_ERR_RESILIENCE_ABORTED"
  | "BWK_ERR_RESILIENCE_RATE_LIMITED"
  | "BWK_ERR_RESILIENCE_CONFIG";

/**
 * Base of every error this module raises. Stackless on purpose: these errors are raised by the
 * policy, not by a bug, so a stack would only point into the resilience internals, and capturing
 * one costs about 2 µs, far more than the whole policy stack.
 */
export class ResilienceError extends Error {
  readonly code: ResilienceErrorCode;
  readonly [BRAND] = true;

  constructor(code: ResilienceErrorCode, message: string, options?: ErrorOptions) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message, options);
    Error.stackTraceLimit = limit;
    this.name = "ResilienceError";
    this.code = code;
  }
}

/** Fail-fast rejection of an open (or probe-saturated half-open) circuit. One instance per breaker, reused. */
export class BrokenCircuitError extends ResilienceError {
  readonly dependency: string;
  constructor(dependency: string) {
    super("BWK_ERR_RESILIENCE_CIRCUIT_OPEN", `circuit for ${dependency} is open`);
    this.name = "BrokenCircuitError";
    this.dependency = dependency;
  }
}

/** The bulkhead had no free slot and its queue was full (or it has no queue). One instance per bulkhead. */
export class BulkheadRejectedError extends ResilienceError {
  readonly dependency: string;
  constructor(
    dependency: string,
    code: "BWK_ERR_RESILIENCE_BULKHEAD_FULL" | "BWK_ERR_RESILIENCE_QUEUE_TIMEOUT",
  ) {
    const why = code === "BWK_ERR_RESILIENCE_BULKHEAD_FULL" ? "is full" : "queue wait timed out";
    super(code, `bulkhead for ${dependency} ${why}`);
    this.name = "BulkheadRejectedError";
    this.dependency = dependency;
  }
}

/** The call outlived its deadline. One instance per timeout policy, reused. */
export class TimeoutError extends ResilienceError {
  readonly dependency: string;
  readonly timeoutMs: number;
  constructor(dependency: string, timeoutMs: number) {
    super("BWK_ERR_RESILIENCE_TIMEOUT", `call to ${dependency} timed out after ${timeoutMs} ms`);
    this.name = "TimeoutError";
    this.dependency = dependency;
    this.timeoutMs = timeoutMs;
  }
}

/** The caller's signal aborted the call (retry stopped, queue left, hedge lost). */
export class AbortedError extends ResilienceError {
  constructor(message = "call aborted", options?: ErrorOptions) {
    super("BWK_ERR_RESILIENCE_ABORTED", message, options);
    this.name = "AbortedError";
  }
}

/** A rate limiter refused the request; `retryAfterMs` says when a request of the same cost would pass. */
export class RateLimitedError extends ResilienceError {
  readonly retryAfterMs: number;
  constructor(key: string, retryAfterMs: number) {
    super("BWK_ERR_RESILIENCE_RATE_LIMITED", `rate limit exceeded for ${key}`);
    this.name = "RateLimitedError";
    this.retryAfterMs = retryAfterMs;
  }
}

/** Invalid policy configuration, raised at build time, never on the call path. */
export class ResilienceConfigError extends ResilienceError {
  constructor(message: string, options?: ErrorOptions) {
    super("BWK_ERR_RESILIENCE_CONFIG", message, options);
    this.name = "ResilienceConfigError";
  }
}

export function isResilienceError(e: unknown): e is ResilienceError {
  return typeof e === "object" && e !== null && (e as { [BRAND]?: boolean })[BRAND] === true;
}

function hasCode(e: unknown, code: ResilienceErrorCode): boolean {
  return isResilienceError(e) && e.code === code;
}

export function isBrokenCircuitError(e: unknown): e is BrokenCircuitError {
  return hasCode(e, "BWK_ERR_RESILIENCE_CIRCUIT_OPEN");
}

export function isBulkheadRejectedError(e: unknown): e is BulkheadRejectedError {
  return hasCode(e, "BWK_ERR_RESILIENCE_BULKHEAD_FULL") || hasCode(e, "BWK_ERR_RESILIENCE_QUEUE_TIMEOUT");
}

export function isTimeoutError(e: unknown): e is TimeoutError {
  return hasCode(e, "BWK_ERR_RESILIENCE_TIMEOUT");
}

export function isRateLimitedError(e: unknown): e is RateLimitedError {
  return hasCode(e, "BWK_ERR_RESILIENCE_RATE_LIMITED");
}

/** Rejections a policy raised without calling the dependency: retrying them at once cannot help. */
export function isFailFastRejection(e: unknown): boolean {
  if (!isResilienceError(e)) return false;
  const c = e.code;
  return (
    c === "BWK_ERR_RESILIENCE_CIRCUIT_OPEN" ||
    c === "BWK_ERR_RESILIENCE_BULKHEAD_FULL" ||
    c === "BWK_ERR_RESILIENCE_QUEUE_TIMEOUT" ||
    c === "BWK_ERR_RESILIENCE_RATE_LIMITED" ||
    c === "BWK_ERR_RESILIENCE_ABORTED"
  );
}

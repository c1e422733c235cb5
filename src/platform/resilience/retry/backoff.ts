/**
 * A backoff computes the delay before retry number `retry` (1 for the first retry) from the previous
 * delay. Stateless, so one instance serves every call; `random` returns a number in [0, 1).
 */
export interface Backoff {
  delay(retry: number, previousMs: number, random: () => number): number;
}

export interface ExponentialOptions {
  /** First delay, milliseconds. Default 100. */
  initialMs?: number;
  /** Growth per retry. Default 2. */
  factor?: number;
  /** Largest delay, milliseconds. Default 30 s. */
  capMs?: number;
}

function exponentialCeiling(o: Required<ExponentialOptions>, retry: number): number {
  return Math.min(o.capMs, o.initialMs * o.factor ** (retry - 1));
}

function withDefaults(o: ExponentialOptions): Required<ExponentialOptions> {
  return { initialMs: o.initialMs ?? 100, factor: o.factor ?? 2, capMs: o.capMs ?? 30_000 };
}

/** The same delay every time. */
export function constantBackoff(ms: number): Backoff {
  return { delay: () => ms };
}

/** initial · factor^(retry−1), capped. */
export function exponentialBackoff(options: ExponentialOptions = {}): Backoff {
  const o = withDefaults(options);
  return { delay: (retry) => exponentialCeiling(o, retry) };
}

/**
 * "Full jitter": uniform in [0, min(cap, initial · factor^(retry−1))).
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function fullJitterBackoff(options: ExponentialOptions = {}): Backoff {
  const o = withDefaults(options);
  return { delay: (retry, _prev, random) => random() * exponentialCeiling(o, retry) };
}

/**
 * "Decorrelated jitter": uniform in [initial, previous · 3), capped; the first retry starts from initial.
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function decorrelatedJitterBackoff(options: Omit<ExponentialOptions, "factor"> = {}): Backoff {
  const o = withDefaults(options);
  return {
    delay: (_retry, prev, random) => {
      const upper = Math.max(o.initialMs, prev * 3);
      return Math.min(o.capMs, o.initialMs + random() * (upper - o.initialMs));
    },
  };
}

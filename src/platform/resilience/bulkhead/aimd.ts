import { isTimeoutError } from "../errors.ts";

export interface AimdOptions {
  /** Starting limit; defaults to the bulkhead's maxConcurrent. */
  initial?: number;
  /** Floor of the limit. Default 1. */
  min?: number;
  /** Ceiling of the limit; defaults to the bulkhead's maxConcurrent. */
  max?: number;
  /** Multiplier applied on a drop, in (0, 1). Default 0.9. */
  backoffRatio?: number;
  /** A call slower than this counts as a drop. Milliseconds; default: only timeouts are drops. */
  latencyThresholdMs?: number;
  /** Which errors count as drops (overload signals). Default: timeouts. */
  isDrop?: (error: unknown) => boolean;
}

/**
 * Additive-increase / multiplicative-decrease concurrency limit, as in Netflix concurrency-limits'
 * AIMDLimit: grow by one when a call succeeds while the limit was at least half used, shrink by
 * `backoffRatio` on a drop (a timeout or a call over the latency threshold).
 */
export class AimdLimit {
  readonly min: number;
  readonly max: number;
  readonly #ratio: number;
  readonly #latencyMs: number;
  readonly #isDrop: (error: unknown) => boolean;
  #limit: number;

  constructor(options: AimdOptions, maxConcurrent: number) {
    this.min = Math.max(1, options.min ?? 1);
    this.max = Math.max(this.min, options.max ?? maxConcurrent);
    this.#limit = Math.min(this.max, Math.max(this.min, options.initial ?? maxConcurrent));
    this.#ratio = options.backoffRatio ?? 0.9;
    this.#latencyMs = options.latencyThresholdMs ?? Number.POSITIVE_INFINITY;
    this.#isDrop = options.isDrop ?? isTimeoutError;
  }

  get limit(): number {
    return this.#limit;
  }

  get measuresLatency(): boolean {
    return this.#latencyMs !== Number.POSITIVE_INFINITY;
  }

  /** Feeds one outcome; `inflight` is how many calls were running when this one started, itself included. */
  update(inflight: number, latencyMs: number, error: unknown, failed: boolean): void {
    if ((failed && this.#isDrop(error)) || latencyMs >= this.#latencyMs) {
      this.#limit = Math.max(this.min, Math.floor(this.#limit * this.#ratio));
    } else if (inflight * 2 >= this.#limit) {
      this.#limit = Math.min(this.max, this.#limit + 1);
    }
  }
}

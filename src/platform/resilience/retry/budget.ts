import { type Clock, systemClock } from "../../time/index.ts";
import { CoarseClock } from "../coarse-clock.ts";

export interface RetryBudgetOptions {
  /** Retries allowed as a fraction of calls over the window, e.g. 0.1 for 10 %. */
  ratio: number;
  /** Retries always allowed per second, so a quiet service can still retry. Default 1. */
  minPerSecond?: number;
  /** Window length in milliseconds. Default 10 s. */
  windowMs?: number;
  clock?: Clock;
}

const BUCKETS = 10;

/**
 * Caps retries at `ratio` of calls over a sliding window (plus a small floor), as Finagle's RetryBudget
 * and gRPC retry throttling do, so that during an outage retries add at most `ratio` extra load instead
 * of multiplying it by the attempt count. One budget may be shared by several retry policies.
 */
export class RetryBudget {
  readonly ratio: number;
  readonly #floor: number;
  readonly #bucketMs: number;
  readonly #coarse: CoarseClock;
  readonly #calls = new Float64Array(BUCKETS);
  readonly #retries = new Float64Array(BUCKETS);
  #current = 0;
  /** Retries refused so far. */
  refused = 0;

  constructor(options: RetryBudgetOptions) {
    this.ratio = options.ratio;
    const windowMs = options.windowMs ?? 10_000;
    this.#floor = ((options.minPerSecond ?? 1) * windowMs) / 1000;
    this.#bucketMs = windowMs / BUCKETS;
    this.#coarse = CoarseClock.of(options.clock ?? systemClock);
    this.#current = Math.floor(this.#coarse.now() / this.#bucketMs);
  }

  /** Counts a first attempt. */
  recordCall(): void {
    this.#calls[this.#bucket()]!++;
  }

  /** Takes one retry from the budget if there is one left. */
  tryRetry(): boolean {
    const b = this.#bucket();
    let calls = 0;
    let retries = 0;
    for (let i = 0; i < BUCKETS; i++) {
      calls += this.#calls[i]!;
      retries += this.#retries[i]!;
    }
    if (retries + 1 > this.#floor + this.ratio * calls) {
      this.refused++;
      return false;
    }
    this.#retries[b]!++;
    return true;
  }

  #bucket(): number {
    const now = Math.floor(this.#coarse.now() / this.#bucketMs);
    if (now !== this.#current) {
      const stale = Math.min(BUCKETS, now - this.#current);
      for (let i = 1; i <= stale; i++) {
        const b = (this.#current + i) % BUCKETS;
        this.#calls[b] = 0;
        this.#retries[b] = 0;
      }
      this.#current = now;
    }
    return this.#current % BUCKETS;
  }
}

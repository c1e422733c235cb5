/**
 * How a closed breaker judges recent outcomes. `record` returns true when the breaker must open.
 * `now` is a coarse monotonic reading, used only by the time-based window.
 */
export interface OutcomeWindow {
  record(failure: boolean, slow: boolean, now: number): boolean;
  reset(): void;
}

/** Opens after `threshold` failures in a row; a success starts the count again. */
export class ConsecutiveWindow implements OutcomeWindow {
  readonly threshold: number;
  #failures = 0;

  constructor(threshold: number) {
    this.threshold = threshold;
  }

  record(failure: boolean): boolean {
    if (!failure) {
      this.#failures = 0;
      return false;
    }
    return ++this.#failures >= this.threshold;
  }

  reset(): void {
    this.#failures = 0;
  }
}

export interface RateThresholds {
  /** Failure rate in (0, 1] at or above which the breaker opens. */
  failureRate: number;
  /** Slow-call rate in (0, 1] at or above which the breaker opens; omit to ignore slowness. */
  slowCallRate?: number;
  /** No verdict before this many calls are in the window. */
  minimumCalls: number;
}

function tripped(t: RateThresholds, total: number, failures: number, slow: number): boolean {
  if (total < t.minimumCalls || total === 0) return false;
  if (failures >= t.failureRate * total) return true;
  return t.slowCallRate !== undefined && slow >= t.slowCallRate * total;
}

const FAILED = 1;
const SLOW = 2;

/** The last `size` outcomes, as a ring of flags with running totals. */
export class CountWindow implements OutcomeWindow {
  readonly #ring: Uint8Array;
  readonly #t: RateThresholds;
  #next = 0;
  #total = 0;
  #failures = 0;
  #slow = 0;

  constructor(size: number, thresholds: RateThresholds) {
    this.#ring = new Uint8Array(size);
    this.#t = thresholds;
  }

  record(failure: boolean, slow: boolean): boolean {
    const ring = this.#ring;
    if (this.#total === ring.length) {
      const old = ring[this.#next]!;
      if (old & FAILED) this.#failures--;
      if (old & SLOW) this.#slow--;
    } else {
      this.#total++;
    }
    ring[this.#next] = (failure ? FAILED : 0) | (slow ? SLOW : 0);
    if (failure) this.#failures++;
    if (slow) this.#slow++;
    this.#next = (this.#next + 1) % ring.length;
    return tripped(this.#t, this.#total, this.#failures, this.#slow);
  }

  reset(): void {
    this.#ring.fill(0);
    this.#next = this.#total = this.#failures = this.#slow = 0;
  }
}

/** Outcomes of the last `windowMs`, in `buckets` buckets that age out one at a time. */
export class TimeWindow implements OutcomeWindow {
  readonly #bucketMs: number;
  readonly #total: Uint32Array;
  readonly #failures: Uint32Array;
  readonly #slow: Uint32Array;
  readonly #t: RateThresholds;
  #current = -1;

  constructor(windowMs: number, buckets: number, thresholds: RateThresholds) {
    this.#bucketMs = Math.max(1, windowMs / buckets);
    this.#total = new Uint32Array(buckets);
    this.#failures = new Uint32Array(buckets);
    this.#slow = new Uint32Array(buckets);
    this.#t = thresholds;
  }

  record(failure: boolean, slow: boolean, now: number): boolean {
    const n = this.#total.length;
    const bucket = Math.floor(now / this.#bucketMs);
    if (bucket !== this.#current) {
      // Clear every bucket skipped since the last record (all of them after a long silence).
      const stale = this.#current < 0 ? n : Math.min(n, bucket - this.#current);
      for (let i = 1; i <= stale; i++) {
        const b = (((bucket - stale + i) % n) + n) % n;
        this.#total[b] = this.#failures[b] = this.#slow[b] = 0;
      }
      this.#current = bucket;
    }
    const b = ((bucket % n) + n) % n;
    this.#total[b]!++;
    if (failure) this.#failures[b]!++;
    if (slow) this.#slow[b]!++;
    let total = 0;
    let failures = 0;
    let slowCount = 0;
    for (let i = 0; i < n; i++) {
      total += this.#total[i]!;
      failures += this.#failures[i]!;
      slowCount += this.#slow[i]!;
    }
    return tripped(this.#t, total, failures, slowCount);
  }

  reset(): void {
    this.#total.fill(0);
    this.#failures.fill(0);
    this.#slow.fill(0);
    this.#current = -1;
  }
}

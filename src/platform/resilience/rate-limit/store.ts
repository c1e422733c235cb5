import { type Clock, systemClock } from "../../time/index.ts";
import { gcra, gcraParams, type RateLimitDecision, type RateLimitPolicy } from "./gcra.ts";

/** Where GCRA keeps its one timestamp per key. Both operations are atomic per key. */
export interface RateLimitStore {
  /** Spends `cost` from `key`'s quota if it allows it. */
  consume(key: string, policy: RateLimitPolicy, cost?: number): Promise<RateLimitDecision>;
  /** Gives `cost` back (e.g. the request turned out to be a 401); never below an empty bucket. */
  refund(key: string, policy: RateLimitPolicy, cost?: number): Promise<void>;
}

export interface MemoryStoreOptions {
  clock?: Clock;
  /** Upper bound on keys kept; the oldest are dropped beyond it. Default 100 000. */
  maxKeys?: number;
}

/** GCRA in process memory, for a single instance or per-instance limits. */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly #clock: Clock;
  readonly #maxKeys: number;
  readonly #tats = new Map<string, number>();

  constructor(options: MemoryStoreOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#maxKeys = options.maxKeys ?? 100_000;
  }

  get size(): number {
    return this.#tats.size;
  }

  consumeSync(key: string, policy: RateLimitPolicy, cost = 1): RateLimitDecision {
    const { emissionMs, toleranceMs } = gcraParams(policy);
    const now = this.#clock.now();
    const decision = gcra(this.#tats.get(key), now, cost, emissionMs, toleranceMs);
    if (decision.allowed) this.#store(key, decision.tat);
    return decision;
  }

  consume(key: string, policy: RateLimitPolicy, cost = 1): Promise<RateLimitDecision> {
    return Promise.resolve(this.consumeSync(key, policy, cost));
  }

  async refund(key: string, policy: RateLimitPolicy, cost = 1): Promise<void> {
    const tat = this.#tats.get(key);
    if (tat === undefined) return;
    const now = this.#clock.now();
    const back = tat - cost * gcraParams(policy).emissionMs;
    if (back <= now) this.#tats.delete(key);
    else this.#tats.set(key, back);
  }

  #store(key: string, tat: number): void {
    // Re-inserting keeps Map order by recency, so the first key is the least recently used one.
    this.#tats.delete(key);
    this.#tats.set(key, tat);
    if (this.#tats.size > this.#maxKeys) this.#tats.delete(this.#tats.keys().next().value!);
  }
}

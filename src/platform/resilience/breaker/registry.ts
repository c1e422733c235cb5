import { type Clock, systemClock } from "../../time/index.ts";
import { CoarseClock } from "../coarse-clock.ts";
import type { CircuitBreakerPolicy } from "./breaker.ts";

export interface BreakerRegistryOptions {
  /** A breaker unused for this long is dropped (unless its circuit is open). Milliseconds, default 10 min. */
  idleMs?: number;
  clock?: Clock;
}

interface Slot {
  breaker: CircuitBreakerPolicy;
  lastUsed: number;
}

/**
 * A breaker per key (host, tenant, shard), created on first use and evicted once idle, so a stream of
 * distinct keys cannot grow memory without bound. Open circuits are kept: evicting one would forget
 * that its dependency is down.
 */
export class BreakerRegistry {
  readonly #create: (key: string) => CircuitBreakerPolicy;
  readonly #idleMs: number;
  readonly #coarse: CoarseClock;
  readonly #slots = new Map<string, Slot>();
  #lastSweep: number;

  constructor(create: (key: string) => CircuitBreakerPolicy, options: BreakerRegistryOptions = {}) {
    this.#create = create;
    this.#idleMs = options.idleMs ?? 600_000;
    this.#coarse = CoarseClock.of(options.clock ?? systemClock);
    this.#lastSweep = this.#coarse.now();
  }

  get size(): number {
    return this.#slots.size;
  }

  keys(): IterableIterator<string> {
    return this.#slots.keys();
  }

  get(key: string): CircuitBreakerPolicy {
    const now = this.#coarse.now();
    if (now - this.#lastSweep >= this.#idleMs / 2) this.sweep(now);
    let slot = this.#slots.get(key);
    if (slot === undefined) {
      slot = { breaker: this.#create(key), lastUsed: now };
      this.#slots.set(key, slot);
    }
    slot.lastUsed = now;
    return slot.breaker;
  }

  /** Drops idle breakers whose circuit is not open; runs by itself from `get`, public for tests and shutdown. */
  sweep(now = this.#coarse.now()): number {
    this.#lastSweep = now;
    let evicted = 0;
    for (const [key, slot] of this.#slots) {
      if (now - slot.lastUsed >= this.#idleMs && slot.breaker.state !== "open") {
        this.#slots.delete(key);
        evicted++;
      }
    }
    return evicted;
  }
}

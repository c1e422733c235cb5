import type { Registry } from "prom-client";
import { type Clock, systemClock } from "../time/index.ts";
import type { CacheDriver } from "./driver.ts";
import { type CacheMetrics, createCacheMetrics, noCacheMetrics } from "./metrics.ts";

export interface CacheSetOptions {
  /** Time to live in milliseconds. Defaults to the cache's `defaultTtlMs`. */
  ttlMs?: number;
  /** Labels for {@link Cache.deleteByTag}: e.g. every entry derived from one symbol. */
  tags?: readonly string[];
}

/**
 * A namespaced cache of JSON values. Both adapters store the JSON text, so a value read back is a copy with JSON's
 * semantics (no `undefined` fields, dates as strings) whichever adapter is in use.
 */
/** What a failed backend call inside a cache-aside read comes back as. */
const FAILED: unique symbol = Symbol("cache backend failed");

export interface Cache {
  readonly namespace: string;
  get<T>(key: string): Promise<T | undefined>;
  set<T>(key: string, value: T, options?: CacheSetOptions): Promise<void>;
  delete(key: string): Promise<boolean>;
  deleteByPrefix(prefix: string): Promise<number>;
  deleteByTag(tag: string): Promise<number>;
  /**
   * Entries carrying any of `tags`, in one round trip to a shared backend (an invalidation naming hundreds of
   * symbols costs one script run, not hundreds); resolves to how many entries it removed.
   */
  deleteByTags(tags: readonly string[]): Promise<number>;
  /**
   * Cache-aside read: the cached value, or `load()`'s result, stored and returned. Concurrent misses of one key in
   * this process share one load (single-flight); with a shared backend a short lock also makes other processes
   * wait for that load instead of starting theirs. A load that an invalidation overtook is returned to its callers
   * but not stored. A load resolving to `undefined` is not stored; errors are not stored. A failing backend
   * (Redis down) makes it a plain read of the source: the cache is an optimisation, never a new way to fail.
   */
  getOrLoad<T>(key: string, load: () => Promise<T>, options?: CacheSetOptions): Promise<T>;
  close(): Promise<void>;
}

export interface CacheOptions {
  driver: CacheDriver;
  namespace: string;
  /** Default time to live in milliseconds. Default 5,000. */
  defaultTtlMs?: number;
  /** Where the hit/miss/load series go. Omit for none. */
  registry?: Registry;
  /**
   * Cross-process stampede lock, when the driver supports one: a miss holds `ttlMs` while it loads, and other
   * processes poll for the value every `pollMs` until it appears or the lock expires (then load themselves).
   * Default on with ttlMs 2,000 and pollMs 10; `false` turns it off.
   */
  lock?: { ttlMs?: number; pollMs?: number } | false;
  clock?: Clock;
}

interface Flight {
  promise: Promise<unknown>;
  tags: readonly string[];
  /** Set when a delete covered this key while loading: the result must not be stored. */
  stale: boolean;
}

class CacheImpl implements Cache {
  readonly namespace: string;
  readonly #driver: CacheDriver;
  readonly #ttlMs: number;
  readonly #metrics: CacheMetrics;
  readonly #lock: { ttlMs: number; pollMs: number } | undefined;
  readonly #clock: Clock;
  readonly #flights = new Map<string, Flight>();

  constructor(options: CacheOptions) {
    this.namespace = options.namespace;
    this.#driver = options.driver;
    this.#ttlMs = options.defaultTtlMs ?? 5_000;
    this.#metrics = options.registry
      ? createCacheMetrics(options.registry, options.namespace)
      : noCacheMetrics;
    this.#lock =
      options.lock === false || !options.driver.supportsLock
        ? undefined
        : { ttlMs: options.lock?.ttlMs ?? 2_000, pollMs: options.lock?.pollMs ?? 10 };
    this.#clock = options.clock ?? systemClock;
  }

  async get<T>(key: string): Promise<T | undefined> {
    const text = await this.#driver.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  async set<T>(key: string, value: T, options: CacheSetOptions = {}): Promise<void> {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`cache ${this.namespace}: ${key} has no JSON form`);
    await this.#driver.set(key, text, options.ttlMs ?? this.#ttlMs, options.tags ?? []);
  }

  async delete(key: string): Promise<boolean> {
    this.#overtake((k) => k === key);
    const removed = await this.#driver.delete(key);
    this.#metrics.invalidated("key", removed ? 1 : 0);
    return removed;
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    this.#overtake((k) => k.startsWith(prefix));
    const removed = await this.#driver.deleteByPrefix(prefix);
    this.#metrics.invalidated("prefix", removed);
    return removed;
  }

  deleteByTag(tag: string): Promise<number> {
    return this.deleteByTags([tag]);
  }

  async deleteByTags(tags: readonly string[]): Promise<number> {
    const named = new Set(tags);
    this.#overtake((_k, flight) => flight.tags.some((t) => named.has(t)));
    const removed = await this.#driver.deleteByTags(tags);
    this.#metrics.invalidated("tag", removed);
    return removed;
  }

  async getOrLoad<T>(key: string, load: () => Promise<T>, options: CacheSetOptions = {}): Promise<T> {
    const flying = this.#flights.get(key);
    if (flying) return this.#join<T>(flying);
    const read = await this.#backend("get", () => this.get<T>(key));
    const cached = read === FAILED ? undefined : read;
    if (cached !== undefined) {
      this.#metrics.hit();
      return cached;
    }
    // Another caller may have started the load while this one read the backend.
    const started = this.#flights.get(key);
    if (started) return this.#join<T>(started);
    this.#metrics.miss();
    const flight: Flight = { promise: Promise.resolve(), tags: options.tags ?? [], stale: false };
    flight.promise = this.#fly(key, load, options, flight).finally(() => {
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
    });
    this.#flights.set(key, flight);
    return flight.promise as Promise<T>;
  }

  async close(): Promise<void> {
    await this.#driver.close();
  }

  #join<T>(flight: Flight): Promise<T> {
    this.#metrics.miss();
    this.#metrics.coalesced();
    return flight.promise as Promise<T>;
  }

  async #fly<T>(key: string, load: () => Promise<T>, options: CacheSetOptions, flight: Flight): Promise<T> {
    let token: string | undefined;
    if (this.#lock && this.#driver.lock) {
      const lock = this.#lock;
      const driver = this.#driver;
      const taken = await this.#backend("lock", () => driver.lock!(key, lock.ttlMs));
      // With the backend down there is no other loader to wait for: load from the source at once.
      if (taken !== FAILED) token = taken;
      if (taken === undefined) {
        const loadedElsewhere = await this.#awaitOtherLoader<T>(key, lock);
        if (loadedElsewhere !== undefined) return loadedElsewhere;
      }
    }
    try {
      const started = this.#clock.monotonic();
      let value: T;
      try {
        value = await load();
      } catch (err) {
        this.#metrics.load("error", (this.#clock.monotonic() - started) / 1000);
        throw err;
      }
      this.#metrics.load("ok", (this.#clock.monotonic() - started) / 1000);
      if (value !== undefined && !flight.stale)
        await this.#backend("set", () => this.set(key, value, options));
      return value;
    } finally {
      const held = token;
      if (held !== undefined) await this.#backend("unlock", async () => this.#driver.unlock?.(key, held));
    }
  }

  /** Polls for the value another process is loading, until its lock would have expired. */
  async #awaitOtherLoader<T>(key: string, lock: { ttlMs: number; pollMs: number }): Promise<T | undefined> {
    const deadline = this.#clock.monotonic() + lock.ttlMs;
    while (this.#clock.monotonic() < deadline) {
      await this.#clock.sleep(lock.pollMs);
      const value = await this.#backend("get", () => this.get<T>(key));
      if (value === FAILED) return undefined;
      if (value !== undefined) return value;
    }
    return undefined;
  }

  /** Runs a backend call of a cache-aside read; a failure is counted and comes back as FAILED. */
  async #backend<R>(
    operation: "get" | "lock" | "set" | "unlock",
    call: () => Promise<R>,
  ): Promise<R | typeof FAILED> {
    try {
      return await call();
    } catch {
      this.#metrics.backendError(operation);
      return FAILED;
    }
  }

  /** Marks loads a delete overtook and forgets them, so the next reader starts a fresh load. */
  #overtake(covered: (key: string, flight: Flight) => boolean): void {
    for (const [key, flight] of this.#flights) {
      if (!covered(key, flight)) continue;
      flight.stale = true;
      this.#flights.delete(key);
    }
  }
}

/** A cache over one driver: JSON values, single-flight loads, metrics, and invalidation that overtakes loads. */
export function createCache(options: CacheOptions): Cache {
  return new CacheImpl(options);
}

import { LRUCache } from "lru-cache";
import { type Clock, systemClock } from "../time/index.ts";
import type { CacheDriver } from "./driver.ts";

export interface MemoryDriverOptions {
  /** Entries kept before the least recently used is evicted. Default 10,000. */
  maxEntries?: number;
  /** Time source for expiry (its monotonic clock); a FakeClock lets tests expire entries without waiting. */
  clock?: Clock;
}

interface Entry {
  value: string;
  tags: readonly string[];
}

/** One process's cache: an LRU (lru-cache) with per-entry TTL and a tag index kept in step with evictions. */
export class MemoryCacheDriver implements CacheDriver {
  readonly supportsLock = false;
  readonly #lru: LRUCache<string, Entry>;
  readonly #byTag = new Map<string, Set<string>>();

  constructor(options: MemoryDriverOptions = {}) {
    const clock = options.clock ?? systemClock;
    this.#lru = new LRUCache<string, Entry>({
      max: options.maxEntries ?? 10_000,
      perf: { now: () => clock.monotonic() },
      // Expired entries are dropped when read, and evicted entries leave the tag index here.
      dispose: (entry, key) => this.#untag(key, entry.tags),
    });
  }

  async get(key: string): Promise<string | undefined> {
    return this.#lru.get(key)?.value;
  }

  async set(key: string, value: string, ttlMs: number, tags: readonly string[]): Promise<void> {
    this.#lru.set(key, { value, tags }, { ttl: ttlMs });
    for (const tag of tags) {
      const keys = this.#byTag.get(tag);
      if (keys) keys.add(key);
      else this.#byTag.set(tag, new Set([key]));
    }
  }

  async delete(key: string): Promise<boolean> {
    return this.#lru.delete(key);
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    let removed = 0;
    for (const key of [...this.#lru.keys()]) {
      if (key.startsWith(prefix) && this.#lru.delete(key)) removed++;
    }
    return removed;
  }

  async deleteByTags(tags: readonly string[]): Promise<number> {
    let removed = 0;
    for (const tag of tags) {
      const keys = this.#byTag.get(tag);
      if (!keys) continue;
      for (const key of [...keys]) if (this.#lru.delete(key)) removed++;
      this.#byTag.delete(tag);
    }
    return removed;
  }

  async close(): Promise<void> {
    this.#lru.clear();
  }

  #untag(key: string, tags: readonly string[]): void {
    for (const tag of tags) {
      const keys = this.#byTag.get(tag);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) this.#byTag.delete(tag);
    }
  }
}

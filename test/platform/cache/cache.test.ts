import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { memoryCache, redisCache } from "../../../src/platform/cache/index.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";
import { SERVICES, serviceAvailable, uniqueName } from "../../support/services.ts";
import { cacheContract } from "./contract.ts";

const clock = new FakeClock(1_000);
cacheContract(
  {
    name: "memory (lru-cache)",
    make: (namespace, options = {}) => memoryCache({ namespace, clock, ...options }),
    advance: (ms) => clock.advance(ms),
  },
  uniqueName,
);

describe("memory cache", () => {
  it("evicts the least recently used entry beyond maxEntries, and its tags with it", async () => {
    const cache = memoryCache({ namespace: "lru", maxEntries: 2, clock });
    await cache.set("a", 1, { tags: ["t"] });
    await cache.set("b", 2, { tags: ["t"] });
    expect(await cache.get("a")).toBe(1); // a is now the most recent
    await cache.set("c", 3);
    expect(await cache.get("b")).toBeUndefined();
    expect(await cache.deleteByTag("t")).toBe(1);
    expect(await cache.get("a")).toBeUndefined();
    expect(await cache.get("c")).toBe(3);
  });
});

const redisUp = await serviceAvailable("redis");
const keyPrefix = `${uniqueName("bwk_cache")}:`;
const clients: Redis[] = [];
function client(): Redis {
  const redis = new Redis(SERVICES.redis.url);
  clients.push(redis);
  return redis;
}

describe.skipIf(!redisUp)("redis cache (real Redis)", () => {
  const redis = redisUp ? client() : (undefined as unknown as Redis);

  afterAll(async () => {
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    for (const c of clients) await c.quit();
  });

  cacheContract(
    {
      name: "redis (ioredis)",
      make: (namespace, options = {}) => redisCache({ namespace, redis, keyPrefix, ...options }),
      advance: () => {},
    },
    uniqueName,
  );

  it("two processes missing one key at once run one load: the second waits on the first's lock", async () => {
    const namespace = uniqueName("xproc");
    // Separate connections and caches stand for two processes: no shared in-process single-flight.
    const first = redisCache({ namespace, redis: client(), keyPrefix });
    const second = redisCache({ namespace, redis: client(), keyPrefix });
    let release!: (v: string) => void;
    const gated = new Promise<string>((r) => (release = r));
    let loads = 0;
    const a = first.getOrLoad("hot", () => {
      loads++;
      return gated;
    });
    // The first holds the lock once its load has started.
    await new Promise<void>((resolve) => {
      const check = () => (loads === 1 ? resolve() : setImmediate(check));
      check();
    });
    const b = second.getOrLoad("hot", async () => {
      loads++;
      return "second";
    });
    release("first");
    expect(await a).toBe("first");
    expect(await b).toBe("first");
    expect(loads).toBe(1);
  });

  it("writes every key under <prefix><namespace>:, each with an expiry", async () => {
    const namespace = uniqueName("keys");
    const cache = redisCache({ namespace, redis, keyPrefix });
    await cache.set("x", 1, { tags: ["t"], ttlMs: 10_000 });
    const base = `${keyPrefix}${namespace}:`;
    const keys = (await redis.keys(`${base}*`)).sort();
    expect(keys).toEqual([`${base}k:x`, `${base}m:x`, `${base}t:t`]);
    for (const key of keys) {
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(10_000);
    }
    await cache.delete("x");
    expect(await redis.keys(`${base}[km]:*`)).toEqual([]);
  });
});

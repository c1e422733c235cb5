import { type Cache, type CacheOptions, createCache } from "./cache.ts";
import { MemoryCacheDriver, type MemoryDriverOptions } from "./memory-driver.ts";
import { RedisCacheDriver, type RedisLike } from "./redis-driver.ts";

type CommonOptions = Omit<CacheOptions, "driver">;

/** An in-process LRU cache (the embedded profile). */
export function memoryCache(options: CommonOptions & MemoryDriverOptions): Cache {
  const driver = new MemoryCacheDriver({
    ...(options.maxEntries !== undefined ? { maxEntries: options.maxEntries } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return createCache({ ...options, driver });
}

/** A cache shared through Redis (the distributed profile). The caller owns and quits the client. */
export function redisCache(options: CommonOptions & { redis: RedisLike; keyPrefix?: string }): Cache {
  const driver = new RedisCacheDriver(options.redis, {
    namespace: options.namespace,
    ...(options.keyPrefix !== undefined ? { keyPrefix: options.keyPrefix } : {}),
  });
  return createCache({ ...options, driver });
}

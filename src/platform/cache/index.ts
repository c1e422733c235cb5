export { type Cache, type CacheOptions, type CacheSetOptions, createCache } from "./cache.ts";
export type { CacheDriver } from "./driver.ts";
export { memoryCache, redisCache } from "./factories.ts";
export { MemoryCacheDriver, type MemoryDriverOptions } from "./memory-driver.ts";
export { type CacheMetrics, createCacheMetrics } from "./metrics.ts";
export { RedisCacheDriver, type RedisDriverOptions, type RedisLike } from "./redis-driver.ts";

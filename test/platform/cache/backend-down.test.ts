import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { redisCache } from "../../../src/platform/cache/index.ts";
import { createMetricsRegistry } from "../../../src/platform/observability/index.ts";

describe("a cache whose backend is down", () => {
  it("answers cache-aside reads from the source and counts the backend errors", async () => {
    // Nothing listens on port 1: every command fails at once (no offline queue, no retries).
    const redis = new Redis({
      host: "127.0.0.1",
      port: 1,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    redis.on("error", () => {});
    const registry = createMetricsRegistry();
    const cache = redisCache({ namespace: "down", redis, registry });
    try {
      let loads = 0;
      const load = async () => {
        loads++;
        return { price: 42 };
      };
      expect(await cache.getOrLoad("k", load)).toEqual({ price: 42 });
      expect(await cache.getOrLoad("k", load)).toEqual({ price: 42 });
      expect(loads).toBe(2);
      const text = await registry.metrics();
      expect(text).toMatch(/cache_backend_errors_total\{cache="down",operation="get"\} 2/);
      // Direct calls still report the failure: only cache-aside reads hide it.
      await expect(cache.get("k")).rejects.toThrow();
    } finally {
      redis.disconnect();
    }
  });
});

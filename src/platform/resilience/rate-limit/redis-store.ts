import type { RateLimitDecision, RateLimitPolicy } from "./gcra.ts";
import { gcraParams } from "./gcra.ts";
import type { RateLimitStore } from "./store.ts";

/** The part of an ioredis client this store uses; pass an ioredis `Redis` or `Cluster`. */
export interface RedisLike {
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/**
 * GCRA in one Lua script, so read-decide-write is atomic across every process sharing the key. Time is
 * the Redis server's (TIME), so clients with skewed clocks still share one limit. A negative cost
 * refunds. The TAT is stored in milliseconds with three decimals and expires when the bucket is full.
 * Returns { allowed, remaining, retryAfterMs, resetAfterMs } as integers (ms rounded up).
 */
export const GCRA_LUA = `
local key = KEYS[1]
local T = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local stored = redis.call('GET', key)
local tat = now
if stored then tat = math.max(tonumber(stored), now) end
if cost < 0 then
  local back = tat + cost * T
  if back <= now then redis.call('DEL', key)
  else redis.call('SET', key, string.format('%.3f', back), 'PX', math.ceil(back - now)) end
  return {1, 0, 0, 0}
end
local new = tat + cost * T
local limit = tau + T
if new - now <= limit then
  redis.call('SET', key, string.format('%.3f', new), 'PX', math.max(1, math.ceil(new - now)))
  return {1, math.floor((limit - (new - now)) / T), 0, math.ceil(new - now)}
end
return {0, math.max(0, math.floor((limit - (tat - now)) / T)), math.ceil(new - limit - now), math.ceil(tat - now)}
`;

export interface RedisStoreOptions {
  /** Prefix of every key this store writes. Default "bwk:rl:". */
  prefix?: string;
}

/** GCRA shared by every instance through Redis (the distributed profile). */
export class RedisRateLimitStore implements RateLimitStore {
  readonly #redis: RedisLike;
  readonly #prefix: string;
  #sha: string | undefined;

  constructor(redis: RedisLike, options: RedisStoreOptions = {}) {
    this.#redis = redis;
    this.#prefix = options.prefix ?? "bwk:rl:";
  }

  async consume(key: string, policy: RateLimitPolicy, cost = 1): Promise<RateLimitDecision> {
    const [allowed, remaining, retryAfterMs, resetAfterMs] = (await this.#run(key, policy, cost)) as number[];
    return {
      allowed: allowed === 1,
      remaining: remaining!,
      retryAfterMs: retryAfterMs!,
      resetAfterMs: resetAfterMs!,
      tat: Number.NaN, // kept in Redis
    };
  }

  async refund(key: string, policy: RateLimitPolicy, cost = 1): Promise<void> {
    await this.#run(key, policy, -cost);
  }

  async #run(key: string, policy: RateLimitPolicy, cost: number): Promise<unknown> {
    const { emissionMs, toleranceMs } = gcraParams(policy);
    const args = [this.#prefix + key, emissionMs, toleranceMs, cost] as const;
    if (this.#sha !== undefined) {
      try {
        return await this.#redis.evalsha(this.#sha, 1, ...args);
      } catch (err) {
        if (!String((err as Error)?.message).includes("NOSCRIPT")) throw err;
      }
    }
    const result = await this.#redis.eval(GCRA_LUA, 1, ...args);
    this.#sha = await sha1(GCRA_LUA);
    return result;
  }
}

async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return Buffer.from(digest).toString("hex");
}

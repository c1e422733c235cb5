import { randomUUID } from "node:crypto";
import type { CacheDriver } from "./driver.ts";

/** The part of an ioredis client this driver uses; pass an ioredis `Redis`. */
export interface RedisLike {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, px: "PX", ttlMs: number): Promise<unknown>;
  set(key: string, value: string, px: "PX", ttlMs: number, nx: "NX"): Promise<unknown>;
  del(...keys: string[]): Promise<number>;
  scan(
    cursor: string,
    match: "MATCH",
    pattern: string,
    count: "COUNT",
    n: number,
  ): Promise<[string, string[]]>;
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

export interface RedisDriverOptions {
  /** Every key this driver writes starts with `<keyPrefix><namespace>:`. Default "bwk:cache:". */
  keyPrefix?: string;
  namespace: string;
}

// KEYS: value key, its tag-list key, then the tag sets. ARGV: value, ttl, the raw key. A key's tag list says
// which tags it carries now; a tag set may still name it from an earlier write, so deleting a tag checks the list.
// A tag set lives as long as its longest-lived member.
const SET_TAGGED = `
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('DEL', KEYS[2])
if #KEYS > 2 then
  for i = 3, #KEYS do
    redis.call('SADD', KEYS[2], KEYS[i])
    redis.call('SADD', KEYS[i], ARGV[3])
    if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
  end
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1
`;

// KEYS: the tag sets. ARGV: the namespace's base. Keys are derived from the sets' members, so this is
// single-node Redis only (not Cluster): see docs/modules/cache.md. A key carrying two of the tags counts once:
// its tag list is gone by the second.
const DELETE_TAGS = `
local removed = 0
for t = 1, #KEYS do
  local members = redis.call('SMEMBERS', KEYS[t])
  for _, key in ipairs(members) do
    if redis.call('SISMEMBER', ARGV[1] .. 'm:' .. key, KEYS[t]) == 1 then
      removed = removed + redis.call('DEL', ARGV[1] .. 'k:' .. key)
      redis.call('DEL', ARGV[1] .. 'm:' .. key)
    end
  end
  redis.call('DEL', KEYS[t])
end
return removed
`;

const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * A cache shared by every process through Redis. Values under `<prefix><namespace>:k:<key>`, the tags a key carries
 * under `…:m:<key>`, tag sets under `…:t:<tag>`, loader locks under `…:l:<key>`. Deleting by prefix walks SCAN, so it is not atomic with
 * concurrent writes: a value written during the walk may survive it.
 */
export class RedisCacheDriver implements CacheDriver {
  readonly supportsLock = true;
  readonly #redis: RedisLike;
  readonly #base: string;
  readonly #shas = new Map<string, string>();

  constructor(redis: RedisLike, options: RedisDriverOptions) {
    this.#redis = redis;
    this.#base = `${options.keyPrefix ?? "bwk:cache:"}${options.namespace}:`;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#redis.get(this.#key(key))) ?? undefined;
  }

  async set(key: string, value: string, ttlMs: number, tags: readonly string[]): Promise<void> {
    const ttl = Math.max(1, Math.ceil(ttlMs));
    const keys = [this.#key(key), this.#tagList(key), ...tags.map((t) => this.#tag(t))];
    await this.#run(SET_TAGGED, keys, [value, ttl, key]);
  }

  async delete(key: string): Promise<boolean> {
    const [removed] = await Promise.all([
      this.#redis.del(this.#key(key)),
      this.#redis.del(this.#tagList(key)),
    ]);
    return removed > 0;
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    const pattern = `${globEscape(this.#key(prefix))}*`;
    let cursor = "0";
    let removed = 0;
    do {
      const [next, keys] = await this.#redis.scan(cursor, "MATCH", pattern, "COUNT", 500);
      cursor = next;
      if (keys.length === 0) continue;
      removed += await this.#redis.del(...keys);
      await this.#redis.del(...keys.map((k) => this.#tagList(k.slice(this.#base.length + 2))));
    } while (cursor !== "0");
    return removed;
  }

  async deleteByTags(tags: readonly string[]): Promise<number> {
    if (tags.length === 0) return 0;
    return Number(
      await this.#run(
        DELETE_TAGS,
        tags.map((t) => this.#tag(t)),
        [this.#base],
      ),
    );
  }

  async lock(key: string, ttlMs: number): Promise<string | undefined> {
    const token = randomUUID();
    const ok = await this.#redis.set(this.#lock(key), token, "PX", Math.max(1, Math.ceil(ttlMs)), "NX");
    return ok === "OK" ? token : undefined;
  }

  async unlock(key: string, token: string): Promise<void> {
    await this.#run(UNLOCK, [this.#lock(key)], [token]);
  }

  /** The Redis client belongs to the caller, who quits it. */
  async close(): Promise<void> {}

  #key(key: string): string {
    return `${this.#base}k:${key}`;
  }

  #tagList(key: string): string {
    return `${this.#base}m:${key}`;
  }

  #tag(tag: string): string {
    return `${this.#base}t:${tag}`;
  }

  #lock(key: string): string {
    return `${this.#base}l:${key}`;
  }

  async #run(script: string, keys: string[], args: (string | number)[]): Promise<unknown> {
    const sha = this.#shas.get(script);
    if (sha !== undefined) {
      try {
        return await this.#redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (!String((err as Error)?.message).includes("NOSCRIPT")) throw err;
      }
    }
    const result = await this.#redis.eval(script, keys.length, ...keys, ...args);
    this.#shas.set(script, await sha1(script));
    return result;
  }
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return Buffer.from(digest).toString("hex");
}

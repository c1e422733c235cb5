import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { RedisRateLimitStore } from "../../../src/platform/resilience/index.ts";
import { SERVICES, serviceAvailable, uniqueName } from "../../support/services.ts";

const ok = await serviceAvailable("redis");
const hammer = fileURLToPath(new URL("./fixtures/hammer.ts", import.meta.url));

function runChild(args: string[], onReady: () => void): Promise<{ admitted: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [hammer, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      if (!out.includes("ready") && `${out}${d}`.includes("ready")) onReady();
      out += d;
    });
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code === 0) resolve(JSON.parse(out.trim().split("\n").at(-1)!));
      else reject(new Error(`hammer exited with ${code}: ${err}`));
    });
  });
}

describe.skipIf(!ok)("Redis rate-limit store (GCRA in one Lua script)", () => {
  const prefix = `${uniqueName("bwk_rl")}:`;
  const redis = ok ? new Redis(SERVICES.redis.url) : undefined;

  afterAll(async () => {
    if (!redis) return;
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it("two processes hammering one key admit no more than the limit in total", async () => {
    // 2,000 per day: nothing refills during the test, so exactly the quota may pass. The quota is large enough
    // that one child cannot drain it before the other has started, even on a loaded machine.
    const args = [SERVICES.redis.url, prefix, "shared", "2000", "86400000", "3000"];
    let ready = 0;
    const start = () => {
      if (++ready === 2) void redis!.rpush(`${prefix}start`, "go", "go");
    };
    const [a, b] = await Promise.all([runChild(args, start), runChild(args, start)]);
    expect(a!.admitted + b!.admitted).toBeLessThanOrEqual(2000);
    expect(a!.admitted + b!.admitted).toBe(2000);
    expect(a!.admitted).toBeGreaterThan(0);
    expect(b!.admitted).toBeGreaterThan(0);
  }, 60_000);

  it("reports remaining, Retry-After and reset like the in-memory GCRA", async () => {
    const store = new RedisRateLimitStore(redis!, { prefix });
    const policy = { limit: 2, periodMs: 10_000 };
    const first = await store.consume("detail", policy);
    expect(first).toMatchObject({ allowed: true, remaining: 1, retryAfterMs: 0 });
    expect(first.resetAfterMs).toBeGreaterThan(4_900);
    expect(first.resetAfterMs).toBeLessThanOrEqual(5_000);
    await store.consume("detail", policy);
    const denied = await store.consume("detail", policy);
    expect(denied.allowed).toBe(false);
    expect(denied.remaining).toBe(0);
    expect(denied.retryAfterMs).toBeGreaterThan(4_800);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(5_000);
    const ttl = await redis!.pttl(`${prefix}detail`);
    expect(ttl).toBeGreaterThan(9_000);
    expect(ttl).toBeLessThanOrEqual(10_000);
  });

  it("refunds: a returned request can be spent again", async () => {
    const store = new RedisRateLimitStore(redis!, { prefix });
    const policy = { limit: 1, periodMs: 60_000 };
    expect((await store.consume("refund", policy)).allowed).toBe(true);
    expect((await store.consume("refund", policy)).allowed).toBe(false);
    await store.refund("refund", policy);
    expect((await store.consume("refund", policy)).allowed).toBe(true);
  });
});

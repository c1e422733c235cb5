import fc from "fast-check";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import {
  gcra,
  MemoryRateLimitStore,
  type RateLimitPolicy,
  rateLimitPlugin,
} from "../../../src/platform/resilience/index.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";

describe("GCRA", () => {
  it("follows the reference arithmetic", () => {
    // 10 per second, burst 10: T = 100 ms, τ = 900 ms.
    const first = gcra(undefined, 0, 1, 100, 900);
    expect(first).toMatchObject({ allowed: true, remaining: 9, tat: 100, resetAfterMs: 100 });
    const full = gcra(1_000, 0, 1, 100, 900);
    expect(full).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 100, tat: 1_000 });
    const later = gcra(1_000, 150, 1, 100, 900);
    expect(later).toMatchObject({ allowed: true, remaining: 0, tat: 1_100 });
  });

  it("admits no more than burst + elapsed/T requests, and all of them while under the rate", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 100, max: 10_000 }),
        fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 300 }),
        async (limit, periodMs, gaps) => {
          const clock = new FakeClock();
          const store = new MemoryRateLimitStore({ clock });
          const policy: RateLimitPolicy = { limit, periodMs };
          let admitted = 0;
          let now = 0;
          for (const gap of gaps) {
            now += gap;
            await clock.advance(gap);
            if (store.consumeSync("k", policy).allowed) admitted++;
          }
          const emission = periodMs / limit;
          expect(admitted).toBeLessThanOrEqual(limit + Math.floor(now / emission));
          // Requests spaced at least T apart are never refused.
          const spaced = gaps.every((g, i) => i === 0 || g >= emission);
          if (spaced) expect(admitted).toBe(gaps.length);
        },
      ),
      { numRuns: 50 },
    );
  });
});

function app(clock: FakeClock, limit = 3) {
  const server = Fastify();
  const store = new MemoryRateLimitStore({ clock });
  server.register(rateLimitPlugin, { store, policy: { limit, periodMs: 60_000 } });
  server.get("/orders", async () => ({ ok: true }));
  server.get("/secret", async (_req, reply) => reply.code(401).send({ error: "who are you" }));
  return server;
}

describe("rateLimitPlugin", () => {
  it("sets the IETF draft headers on allowed responses", async () => {
    const server = app(new FakeClock(1_000_000));
    const res = await server.inject({ url: "/orders", headers: { "x-api-key": "a" } });
    expect(res.statusCode).toBe(200);
    expect(res.headers["ratelimit-policy"]).toBe('"default";q=3;w=60');
    expect(res.headers.ratelimit).toBe('"default";r=2;t=20');
    expect(res.headers["x-ratelimit-limit"]).toBeUndefined();
  });

  it("answers 429 with Retry-After and an RFC 9457 problem once the quota is spent", async () => {
    const server = app(new FakeClock(1_000_000));
    for (let i = 0; i < 3; i++) expect((await server.inject({ url: "/orders" })).statusCode).toBe(200);
    const res = await server.inject({ url: "/orders" });
    expect(res.statusCode).toBe(429);
    expect(res.headers["retry-after"]).toBe("20");
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(res.headers.ratelimit).toBe('"default";r=0;t=60');
    expect(res.json()).toMatchObject({
      type: "https://bulwark.dev/problems/quota-exceeded",
      status: 429,
      "violated-policies": ["default"],
    });
  });

  it("keys by API key: one client's spending does not limit another", async () => {
    const server = app(new FakeClock(1_000_000), 1);
    expect((await server.inject({ url: "/orders", headers: { "x-api-key": "a" } })).statusCode).toBe(200);
    expect((await server.inject({ url: "/orders", headers: { "x-api-key": "a" } })).statusCode).toBe(429);
    expect((await server.inject({ url: "/orders", headers: { "x-api-key": "b" } })).statusCode).toBe(200);
  });

  it("does not count 401/403 responses against the quota", async () => {
    const server = app(new FakeClock(1_000_000), 2);
    for (let i = 0; i < 5; i++) expect((await server.inject({ url: "/secret" })).statusCode).toBe(401);
    expect((await server.inject({ url: "/orders" })).statusCode).toBe(200);
    expect((await server.inject({ url: "/orders" })).statusCode).toBe(200);
    expect((await server.inject({ url: "/orders" })).statusCode).toBe(429);
  });
});

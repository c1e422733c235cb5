import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { BANKING_ROLES } from "../../../src/cases/banking/system.ts";
import {
  MemoryRateLimitStore,
  type RateLimitStore,
  RedisRateLimitStore,
} from "../../../src/platform/resilience/index.ts";
import { SERVICES, serviceAvailable, uniqueName } from "../../support/services.ts";
import { storeTargets } from "../../support/stores.ts";
import { bankingHarness } from "./system-harness.ts";

const targets = await storeTargets();
const redisUp = await serviceAvailable("redis");
const redis = redisUp
  ? new Redis(SERVICES.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  : undefined;

/** The profile's store: in memory beside SQLite (embedded), Redis beside Postgres (distributed). */
function rateLimitStoreFor(kind: "sqlite" | "postgres"): RateLimitStore | undefined {
  if (kind === "sqlite") return new MemoryRateLimitStore();
  return redis ? new RedisRateLimitStore(redis, { prefix: `${uniqueName("rl")}:` }) : undefined;
}

afterAll(async () => {
  redis?.disconnect();
});

describe.each(targets)("per-client rate limit at the gateway on $name", (target) => {
  const harness = bankingHarness(target);
  afterEach(() => harness.stopAll());
  afterAll(() => target.cleanup());

  it("gives one client over its limit 429s with Retry-After and the RateLimit headers; others pass", async () => {
    const store = rateLimitStoreFor(target.name);
    if (!store) return; // Redis unreachable: SKIP printed by serviceAvailable
    const sys = await harness.start(
      { rateLimit: { perSecond: 2, burst: 5 } },
      { roles: BANKING_ROLES, rateLimitStore: store },
    );
    const api = sys.urls.gateway!;
    const alice = await sys.customer("alice", [{ id: "alice-main", balanceCents: 10_000 }]);
    const bob = await sys.customer("bob", [{ id: "bob-main", balanceCents: 10_000 }]);
    // Tokens from auth directly: /api/token is limited per address, and this test is about clients.
    const aliceToken = await sys.tokenFor(alice);
    const bobToken = await sys.tokenFor(bob);
    const balance = (token: string, account: string) =>
      fetch(`${api}/api/accounts/${account}/balance`, { headers: { authorization: `Bearer ${token}` } });

    const statuses: number[] = [];
    let refused: Response | undefined;
    const started = Date.now();
    for (let i = 0; i < 12; i++) {
      const res = await balance(aliceToken, "alice-main");
      statuses.push(res.status);
      expect(res.headers.get("ratelimit-policy")).toBe('"per-client";q=2;w=1');
      expect(res.headers.get("ratelimit")).toMatch(/^"per-client";r=\d+;t=\d+$/);
      if (res.status === 429) refused ??= res;
      else await res.body?.cancel();
    }
    const ok = statuses.filter((s) => s === 200).length;
    console.log(
      `rate limit (${target.name}): alice ${ok} × 200, ${statuses.length - ok} × 429 of ${statuses.length}`,
    );
    // A burst of 5, plus at most one more the elapsed time earned back (2/s) on a slow machine.
    expect(ok).toBeGreaterThanOrEqual(5);
    expect(ok).toBeLessThanOrEqual(7);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(refused).toBeDefined();
    const r = refused!;
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(r.headers.get("ratelimit")).toMatch(/^"per-client";r=0;t=\d+$/);
    expect(r.headers.get("content-type")).toContain("application/problem+json");
    const problem = (await r.json()) as { type: string; "violated-policies": string[] };
    expect(problem.type).toBe("https://bulwark.dev/problems/quota-exceeded");
    expect(problem["violated-policies"]).toEqual(["per-client"]);

    // Bob is another client: his full burst passes while alice is refused.
    for (let i = 0; i < 5; i++) {
      const res = await balance(bobToken, "bob-main");
      expect(res.status, `bob request ${i + 1}`).toBe(200);
      await res.body?.cancel();
    }
    // Bob's traffic gave alice nothing: she is refused again as soon as she spends what her rate earned back
    // since her first request (one every 500 ms), which on a slow machine may be a token or two by now.
    let again = 0;
    let res = await balance(aliceToken, "alice-main");
    while (res.status === 200 && again < 20) {
      again++;
      await res.body?.cancel();
      res = await balance(aliceToken, "alice-main");
    }
    expect(res.status).toBe(429);
    expect(ok + again).toBeLessThanOrEqual(5 + Math.floor((Date.now() - started) / 500));

    // Probes and metrics are never limited.
    for (let i = 0; i < 10; i++) expect((await fetch(`${api}/health/ready`)).status).toBe(200);
  });

  it("gives a forged token's quota back: 401s do not count", async () => {
    const store = rateLimitStoreFor(target.name);
    if (!store) return;
    const sys = await harness.start(
      { rateLimit: { perSecond: 1, burst: 3 } },
      { roles: BANKING_ROLES, rateLimitStore: store },
    );
    const api = sys.urls.gateway!;
    const alice = await sys.customer("alice", [{ id: "alice-main", balanceCents: 10_000 }]);
    const token = await sys.tokenFor(alice);
    // Same client_id claim as alice's token, but no valid signature.
    const [header, payload] = token.split(".");
    const forged = `${header}.${payload}.AAAA`;
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${api}/api/accounts/alice-main/balance`, {
        headers: { authorization: `Bearer ${forged}` },
      });
      expect(res.status).toBe(401);
    }
    const res = await fetch(`${api}/api/accounts/alice-main/balance`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
  });

  it("lets requests through when the limiter's Redis is unreachable (fails open, no 500s)", async () => {
    if (target.name !== "postgres") return;
    // A real client to a port nobody listens on: every command fails at once.
    const dead = new Redis("redis://127.0.0.1:1", {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    dead.on("error", () => {});
    try {
      const sys = await harness.start(
        { rateLimit: { perSecond: 1, burst: 1 } },
        { roles: BANKING_ROLES, rateLimitStore: new RedisRateLimitStore(dead) },
      );
      const alice = await sys.customer("alice", [{ id: "alice-main", balanceCents: 10_000 }]);
      const token = await sys.tokenFor(alice);
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${sys.urls.gateway}/api/accounts/alice-main/balance`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(res.status).toBe(200);
      }
    } finally {
      dead.disconnect();
    }
  });
});

import { Value } from "@sinclair/typebox/value";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { ResilientAuthenticator } from "../../../src/cases/banking/clients/authenticator.ts";
import { type BankingDependency, OutgoingCalls } from "../../../src/cases/banking/clients/outgoing.ts";
import { AccountsClient } from "../../../src/cases/banking/clients/section-clients.ts";
import { type BankingConfig, BankingConfigSchema } from "../../../src/cases/banking/config.ts";
import { isDependencyUnavailableError, isUnauthorizedError } from "../../../src/cases/banking/principal.ts";
import { createService, type Service } from "../../../src/platform/http/index.ts";
import { createLogger } from "../../../src/platform/observability/index.ts";
import { isBrokenCircuitError, isTimeoutError } from "../../../src/platform/resilience/index.ts";

type Patterns = BankingConfig["patterns"];

function bankingConfig(patterns: Partial<Patterns> = {}, extra: Partial<BankingConfig> = {}): BankingConfig {
  const config = Value.Default(BankingConfigSchema, {}) as BankingConfig;
  return { ...config, ...extra, patterns: { ...config.patterns, ...patterns } };
}

const ALL_OFF: Patterns = {
  timeouts: false,
  breakers: false,
  fallbacks: false,
  bulkheads: false,
  retryBudget: false,
  rateLimit: false,
  loadShedding: false,
};

/**
 * A stand-in dependency on the real service kit: real HTTP, with behaviour the test steers (delay, status) and
 * a record of what it received. The banking services themselves are exercised in the system tests.
 */
interface StandIn {
  url: string;
  service: Service;
  delayMs: number;
  status: number;
  seen: Array<{ method: string; url: string; deadline: string | undefined; body: unknown }>;
  revoked: string[];
  jwks: unknown;
}

const services: Service[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
});

async function standIn(): Promise<StandIn> {
  const service = createService({
    name: "stand-in",
    logger: createLogger({ level: "silent" }),
    shutdown: { readinessGraceMs: 0, drainTimeoutMs: 100 },
  });
  services.push(service);
  const s = {
    service,
    delayMs: 0,
    status: 200,
    seen: [],
    revoked: [],
    jwks: { keys: [] },
  } as unknown as StandIn;
  service.app.all("/*", async (request, reply) => {
    s.seen.push({
      method: request.method,
      url: request.url,
      deadline: request.headers["x-deadline-ms"] as string | undefined,
      body: request.body,
    });
    if (s.delayMs > 0) await new Promise((r) => setTimeout(r, s.delayMs));
    if (s.status !== 200) return reply.code(s.status).send({ status: s.status });
    if (request.url === "/.well-known/jwks.json") return s.jwks;
    if (request.url.startsWith("/revocations")) return { jtis: s.revoked, asOf: Date.now() };
    if (request.url === "/introspect") {
      return { active: true, sub: "c-1", client_id: "app-1", exp: 2_000_000_000, jti: "online" };
    }
    return { accountId: "a-1", balanceCents: 1234, currency: "EUR", overdraftLimitCents: 0, asOf: "t1" };
  });
  s.url = await service.listen();
  return s;
}

function callsTo(target: StandIn, config: BankingConfig): OutgoingCalls {
  return new OutgoingCalls({ config, baseUrl: (_d: BankingDependency) => target.url });
}

async function tokenPair() {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "EdDSA" };
  const sign = (jti: string, claims: Record<string, unknown> = {}, audience = "bulwark-banking") =>
    new SignJWT({ client_id: "app-1", ...claims })
      .setProtectedHeader({ alg: "EdDSA", kid: "k1" })
      .setSubject("c-1")
      .setJti(jti)
      .setIssuer("bulwark-auth")
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(privateKey);
  return { jwks: { keys: [jwk] }, sign };
}

describe("outgoing calls", () => {
  it("passes the caller's remaining deadline minus the margin, else its own budget; nothing with timeouts off", async () => {
    const target = await standIn();
    const calls = callsTo(target, bankingConfig({}, { callTimeoutMs: 300 }));
    await calls.call("accounts", { path: "/x", deadline: performance.now() + 150 });
    await calls.call("accounts", { path: "/y" });
    const [tight, own] = target.seen.map((r) => Number(r.deadline));
    expect(tight).toBeGreaterThan(100);
    expect(tight).toBeLessThanOrEqual(140);
    expect(own).toBeGreaterThan(250);
    expect(own).toBeLessThanOrEqual(290);

    const off = callsTo(target, bankingConfig({ timeouts: false }));
    await off.call("accounts", { path: "/z", deadline: performance.now() + 150 });
    expect(target.seen[2]!.deadline).toBeUndefined();
  });

  it("times a slow call out at the deadline, and waits it out with timeouts off", async () => {
    const target = await standIn();
    target.delayMs = 400;
    const calls = callsTo(target, bankingConfig({}, { callTimeoutMs: 100 }));
    const t0 = performance.now();
    const err = await calls.call("accounts", { path: "/slow" }).catch((e) => e);
    const waited = performance.now() - t0;
    expect(isTimeoutError(err)).toBe(true);
    expect(waited, "timed out after").toBeGreaterThanOrEqual(95);
    // The call itself would take 400 ms; the headroom covers a loaded 2-core machine.
    expect(waited, "timed out after").toBeLessThan(380);

    const off = callsTo(target, bankingConfig({ timeouts: false }, { callTimeoutMs: 100 }));
    const t1 = performance.now();
    const answer = await off.call("accounts", { path: "/slow" });
    expect(answer.status).toBe(200);
    expect(performance.now() - t1, "waited without timeouts").toBeGreaterThanOrEqual(390);
  });

  it("opens the dependency's breaker after failures and then fails fast without calling", async () => {
    const target = await standIn();
    target.status = 500;
    const calls = callsTo(target, bankingConfig({ retryBudget: true }));
    for (let i = 0; i < 10; i++) await calls.call("history", { path: "/f", method: "POST" }).catch(() => {});
    const before = target.seen.length;
    const err = await calls.call("history", { path: "/f", method: "POST" }).catch((e) => e);
    expect(isBrokenCircuitError(err)).toBe(true);
    expect(target.seen.length).toBe(before);
    // Another dependency's breaker is untouched.
    target.status = 200;
    expect((await calls.call("accounts", { path: "/ok" })).status).toBe(200);
  });

  it("retries only idempotent calls on a transient failure; with the budget switch off it retries everything", async () => {
    const target = await standIn();
    target.status = 503;
    const calls = callsTo(target, bankingConfig({ breakers: false }));
    await calls.call("accounts", { path: "/get" }).catch(() => {});
    await calls.call("accounts", { path: "/post", method: "POST", body: {} }).catch(() => {});
    await calls
      .call("accounts", {
        path: "/keyed",
        method: "POST",
        body: {},
        idempotent: true,
        headers: { "idempotency-key": "k" },
      })
      .catch(() => {});
    const count = (path: string) => target.seen.filter((r) => r.url === path).length;
    expect(count("/get")).toBe(2);
    expect(count("/post")).toBe(1);
    expect(count("/keyed")).toBe(2);

    const before = callsTo(target, bankingConfig({ ...ALL_OFF }));
    await before.call("accounts", { path: "/storm", method: "POST", body: {} }).catch(() => {});
    expect(count("/storm")).toBe(3);
  });

  it("keeps a retry budget: under a long outage retries stay a small fraction of calls", async () => {
    const target = await standIn();
    target.status = 503;
    const calls = callsTo(target, bankingConfig({ breakers: false }));
    for (let i = 0; i < 100; i++) await calls.call("accounts", { path: "/b" }).catch(() => {});
    const retries = target.seen.length - 100;
    // ratio 0.1 of calls plus a floor of 2/s over the 10 s window (without a budget: 100 retries).
    expect(retries).toBeLessThanOrEqual(100 * 0.1 + 20 + 1);
    expect(retries).toBeGreaterThan(0);
  });

  it("gives each downstream its own bulkhead: a saturated one refuses, another still answers", async () => {
    const slow = await standIn();
    const fast = await standIn();
    slow.delayMs = 300;
    const calls = new OutgoingCalls({
      config: bankingConfig({ breakers: false }),
      baseUrl: (d) => (d === "history" ? slow.url : fast.url),
    });
    const pending = Array.from({ length: 60 }, () => calls.call("history", { path: "/h" }).catch((e) => e));
    const t0 = performance.now();
    const answer = await calls.call("accounts", { path: "/a" });
    const took = performance.now() - t0;
    expect(answer.status).toBe(200);
    expect(took).toBeLessThan(150);
    const outcomes = await Promise.all(pending);
    expect(outcomes.filter((o) => o instanceof Error).length).toBeGreaterThan(0);
  });
});

describe("resilient authenticator", () => {
  it("uses auth online while it answers, and verifies locally (keys, revocations) when auth is slow", async () => {
    const auth = await standIn();
    const { jwks, sign } = await tokenPair();
    auth.jwks = jwks;
    auth.revoked = ["revoked-1"];
    const config = bankingConfig({}, { authCheckTimeoutMs: 50 });
    const authenticator = new ResilientAuthenticator({ config, calls: callsTo(auth, config) });
    await authenticator.start();
    try {
      expect(authenticator.hasKeys).toBe(true);
      const online = await authenticator.authenticate(await sign("j-1"));
      expect(online.jti).toBe("online");
      expect(authenticator.stats.online).toBe(1);

      auth.delayMs = 1_000;
      const t0 = performance.now();
      const local = await authenticator.authenticate(await sign("j-2"));
      expect(performance.now() - t0).toBeLessThan(300);
      expect(local).toEqual({ customerId: "c-1", clientId: "app-1", jti: "j-2", exp: expect.any(Number) });
      expect(authenticator.stats.local).toBe(1);

      const revoked = await authenticator.authenticate(await sign("revoked-1")).catch((e) => e);
      expect(isUnauthorizedError(revoked)).toBe(true);
      const forged = await tokenPair();
      const bad = await authenticator.authenticate(await forged.sign("j-3")).catch((e) => e);
      expect(isUnauthorizedError(bad)).toBe(true);
      const wrongAudience = await authenticator.authenticate(await sign("j-4", {}, "other")).catch((e) => e);
      expect(isUnauthorizedError(wrongAudience)).toBe(true);
    } finally {
      await authenticator.stop();
    }
  });

  it("verifies locally at once when auth is down, and says 'unavailable' with fallbacks off", async () => {
    const auth = await standIn();
    const { jwks, sign } = await tokenPair();
    auth.jwks = jwks;
    const config = bankingConfig();
    const authenticator = new ResilientAuthenticator({ config, calls: callsTo(auth, config) });
    await authenticator.start();
    const offConfig = bankingConfig({ fallbacks: false });
    const strict = new ResilientAuthenticator({ config: offConfig, calls: callsTo(auth, offConfig) });
    await strict.start();
    try {
      await auth.service.stop();
      const token = await sign("j-down");
      expect((await authenticator.authenticate(token)).jti).toBe("j-down");
      const err = await strict.authenticate(token).catch((e) => e);
      expect(isDependencyUnavailableError(err)).toBe(true);
    } finally {
      await authenticator.stop();
      await strict.stop();
    }
  });
});

describe("accounts client", () => {
  it("serves the last known balance marked stale when accounts fails, and fails with fallbacks off", async () => {
    const accounts = await standIn();
    const config = bankingConfig();
    const client = new AccountsClient(config, callsTo(accounts, config));
    const fresh = await client.balance("c-1", "a-1", "tok");
    expect(fresh.stale).toBeUndefined();
    accounts.status = 500;
    const stale = await client.balance("c-1", "a-1", "tok");
    expect(stale).toEqual({ ...fresh, stale: true });
    // Never another customer's cached balance.
    await expect(client.balance("c-2", "a-1", "tok")).rejects.toThrow();
    const strictConfig = bankingConfig({ fallbacks: false });
    const strict = new AccountsClient(strictConfig, callsTo(accounts, strictConfig));
    await expect(strict.balance("c-1", "a-1", "tok")).rejects.toThrow();
  });
});

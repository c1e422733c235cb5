import { createLocalJWKSet, decodeJwt, exportJWK, generateKeyPair, jwtVerify } from "jose";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  REVOCATION_FEED_OVERLAP_MS,
  TOKEN_AUDIENCE,
  TOKEN_ISSUER,
} from "../../../src/cases/banking/auth/auth-service.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";
import { storeTargets } from "../../support/stores.ts";
import { ADMIN_TOKEN, bankingHarness, post, SERVICE_KEY } from "./system-harness.ts";

const targets = await storeTargets();

describe.each(targets)("banking auth on $name", (target) => {
  const harness = bankingHarness(target);
  afterEach(() => harness.stopAll());
  afterAll(() => target.cleanup());

  it("issues a signed JWT with the contract's claims, verifiable with the published JWKS", async () => {
    const h = await harness.start({ tokenTtlSeconds: 120 });
    const alice = await h.customer("alice");
    const res = await post(`${h.urls.auth}/token`, {
      clientId: alice.clientId,
      clientSecret: alice.clientSecret,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as { access_token: string; token_type: string; expires_in: number };
    expect(body.token_type).toBe("Bearer");
    expect(body.expires_in).toBe(120);
    const jwks = (await (await fetch(`${h.urls.auth}/.well-known/jwks.json`)).json()) as {
      keys: Array<Record<string, unknown>>;
    };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).not.toHaveProperty("d"); // never the private part
    const { payload, protectedHeader } = await jwtVerify(
      body.access_token,
      createLocalJWKSet(jwks as never),
      {
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
      },
    );
    expect(protectedHeader.alg).toBe("EdDSA");
    expect(payload).toMatchObject({ sub: "alice", client_id: alice.clientId, iss: "bulwark-auth" });
    expect(payload.exp! - payload.iat!).toBe(120);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers 401 problem+json for a wrong secret or an unknown client, and 400 naming a missing field", async () => {
    const h = await harness.start();
    const alice = await h.customer("alice");
    for (const body of [
      { clientId: alice.clientId, clientSecret: "wrong" },
      { clientId: "nobody-app", clientSecret: alice.clientSecret },
    ]) {
      const res = await post(`${h.urls.auth}/token`, body);
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(await res.text()).not.toContain("alice-secret");
    }
    const bad = await post(`${h.urls.auth}/token`, { clientId: alice.clientId });
    expect(bad.status).toBe(400);
    const problem = (await bad.json()) as { errors: Array<{ field: string }> };
    expect(problem.errors.map((e) => e.field)).toContain("body.clientSecret");
  });

  it("introspects tokens for services only, and a revoked token turns inactive", async () => {
    const h = await harness.start();
    const alice = await h.customer("alice");
    const token = await h.tokenFor(alice);
    const introspect = (t: string, key = SERVICE_KEY) =>
      post(`${h.urls.auth}/introspect`, { token: t }, { "x-api-key": key });
    expect((await introspect(token, "not-the-service-key-000")).status).toBe(401);
    const active = (await (await introspect(token)).json()) as Record<string, unknown>;
    const { jti, exp } = decodeJwt(token);
    expect(active).toEqual({ active: true, sub: "alice", client_id: alice.clientId, exp, jti });
    expect(await (await introspect(`${token.slice(0, -4)}AAAA`)).json()).toEqual({ active: false });
    expect(await (await introspect("not.a.jwt")).json()).toEqual({ active: false });

    const since = Date.now() - 1;
    expect(
      (await post(`${h.urls.auth}/revoke`, { jti }, { "x-api-key": "wrong-key-0123456789" })).status,
    ).toBe(401);
    const revoked = await post(`${h.urls.auth}/revoke`, { jti }, { "x-api-key": SERVICE_KEY });
    expect(revoked.status).toBe(204);
    expect(await (await introspect(token)).json()).toEqual({ active: false });
    const feed = (await (await fetch(`${h.urls.auth}/revocations?since=${since}`)).json()) as {
      jtis: string[];
      asOf: number;
    };
    expect(feed.jtis).toEqual([jti]);
    // asOf lags by the overlap, so polling on from it sees a just-committed revocation again, never misses it.
    expect(feed.asOf).toBeLessThanOrEqual(Date.now() - REVOCATION_FEED_OVERLAP_MS);
    expect(feed.asOf).toBeGreaterThanOrEqual(since - REVOCATION_FEED_OVERLAP_MS);
    const next = (await (await fetch(`${h.urls.auth}/revocations?since=${feed.asOf}`)).json()) as {
      jtis: string[];
    };
    expect(next.jtis).toEqual([jti]);
    const later = (await (await fetch(`${h.urls.auth}/revocations?since=${Date.now() + 1_000}`)).json()) as {
      jtis: string[];
    };
    expect(later.jtis).toEqual([]);
  });

  it("revokes through the admin API with the admin token", async () => {
    const h = await harness.start();
    const alice = await h.customer("alice");
    const token = await h.tokenFor(alice);
    const { jti } = decodeJwt(token);
    expect((await post(`${h.urls.auth}/admin/revoke`, { jti })).status).toBe(401);
    const res = await post(
      `${h.urls.auth}/admin/revoke`,
      { jti },
      { authorization: `Bearer ${ADMIN_TOKEN}` },
    );
    expect(res.status).toBe(204);
    expect(await h.banking.auth!.introspect(token)).toEqual({ active: false });
  });

  it("an expired token is inactive", async () => {
    const h = await harness.start({ tokenTtlSeconds: 10 });
    const alice = await h.customer("alice");
    const token = await h.tokenFor(alice);
    const { exp } = decodeJwt(token);
    const later = await harness.start({}, { store: h.store, clock: new FakeClock((exp! + 1) * 1000) });
    expect(await later.banking.auth!.introspect(token)).toEqual({ active: false });
    expect((await h.banking.auth!.introspect(token)).active).toBe(true);
  });

  it("serves a customer's profile to services, with the ids of their accounts", async () => {
    const h = await harness.start();
    await h.customer("bob", [
      { id: "bob-b", balanceCents: 10 },
      { id: "bob-a", balanceCents: 20 },
    ]);
    const res = await fetch(`${h.urls.auth}/customers/bob/profile`, {
      headers: { "x-api-key": SERVICE_KEY },
    });
    expect(await res.json()).toEqual({
      customerId: "bob",
      name: "Customer bob",
      accountIds: ["bob-a", "bob-b"],
    });
    expect((await fetch(`${h.urls.auth}/customers/bob/profile`)).status).toBe(401);
    const missing = await fetch(`${h.urls.auth}/customers/nobody/profile`, {
      headers: { "x-api-key": SERVICE_KEY },
    });
    expect(missing.status).toBe(404);
  });

  it("signs with a configured Ed25519 key (a private JWK from a secret) and publishes its public half", async () => {
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const jwk = await exportJWK(privateKey);
    const h = await harness.start({}, { signingKey: JSON.stringify(jwk) });
    const jwks = (await (await fetch(`${h.urls.auth}/.well-known/jwks.json`)).json()) as {
      keys: Array<{ x: string; d?: string }>;
    };
    expect(jwks.keys[0]!.x).toBe(jwk.x);
    expect(jwks.keys[0]!.d).toBeUndefined();
    await expect(harness.start({}, { store: h.store, signingKey: "not a key" })).rejects.toThrow();
  });

  it("every auth process on one store signs with the same generated key", async () => {
    const a = await harness.start();
    const b = await harness.start({}, { store: a.store });
    expect(b.banking.auth!.signingKey.kid).toBe(a.banking.auth!.signingKey.kid);
    const alice = await a.customer("alice");
    const token = await a.tokenFor(alice);
    expect((await b.banking.auth!.introspect(token)).active).toBe(true);
  });
});

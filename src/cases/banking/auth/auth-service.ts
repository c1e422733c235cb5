import { randomUUID } from "node:crypto";
import { type Static, Type } from "@sinclair/typebox";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import type { Kysely } from "kysely";
import { HttpProblem, type Service } from "../../../platform/http/index.ts";
import type { LedgerDb } from "../accounts/migrations.ts";
import { ledgerMigrations } from "../accounts/migrations.ts";
import { type BankingContext, bankingService } from "../context.ts";
import type { IntrospectionResponse } from "../principal.ts";
import { AuthRepository } from "./auth-repository.ts";
import { type AuthDb, authMigrations } from "./migrations.ts";
import { decoyHash, verifySecret } from "./secrets.ts";
import { loadSigningKey, type SigningKey, TOKEN_ALG } from "./signing-key.ts";

export const TOKEN_ISSUER = "bulwark-auth";
export const TOKEN_AUDIENCE = "bulwark-banking";
export const REVOCATION_FEED_OVERLAP_MS = 2_000;
const REVOCATION_FEED_LIMIT = 10_000;

const Id = Type.String({ pattern: "^[A-Za-z0-9_.-]{1,64}$" });

export const TokenBody = Type.Object(
  { clientId: Id, clientSecret: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);
const IntrospectBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 4096 }) },
  { additionalProperties: false },
);
const RevokeBody = Type.Object(
  { jti: Type.String({ pattern: "^[A-Za-z0-9_-]{1,64}$" }) },
  { additionalProperties: false },
);

export interface AuthService {
  service: Service;
  repository: AuthRepository;
  signingKey: SigningKey;
  /** Validates a token the way `/introspect` does (signature, issuer, audience, expiry, revocation). */
  introspect(token: string): Promise<IntrospectionResponse>;
}

/**
 * Issues short-lived EdDSA JWTs to registered clients, validates and revokes them, and publishes the public
 * keys (JWKS) and a revocation feed so callers can check tokens locally while auth is down.
 */
export async function createAuthService(
  ctx: BankingContext,
  options: { signingKey?: string } = {},
): Promise<AuthService> {
  await ctx.store.migrate("banking", authMigrations);
  await ctx.store.migrate("banking", ledgerMigrations);
  const db = ctx.store.db as Kysely<AuthDb & LedgerDb>;
  const repository = new AuthRepository(db);
  const signingKey = await loadSigningKey(ctx.store.db as Kysely<AuthDb>, options.signingKey);
  const ttl = ctx.config.tokenTtlSeconds;
  const service = bankingService(ctx, "auth");
  const app = service.app;

  const introspect = async (token: string): Promise<IntrospectionResponse> => {
    try {
      const { payload } = await jwtVerify(token, signingKey.publicKey, {
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        algorithms: [TOKEN_ALG],
        currentDate: new Date(ctx.clock.now()),
        requiredClaims: ["sub", "jti", "exp", "iat"],
      });
      const jti = payload.jti as string;
      if (await repository.isRevoked(jti)) return { active: false };
      return {
        active: true,
        sub: payload.sub as string,
        client_id: String(payload.client_id),
        exp: payload.exp as number,
        jti,
      };
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) return { active: false };
      throw err;
    }
  };

  app.post("/token", { schema: { body: TokenBody } }, async (request, reply) => {
    const body: Static<typeof TokenBody> = request.body;
    const client = await repository.client(body.clientId);
    // Hash the secret even for an unknown client, so timing does not tell which client ids exist.
    const valid = await verifySecret(body.clientSecret, client?.secret_hash ?? (await decoyHash()));
    if (!client || !valid) {
      reply.header("www-authenticate", 'Basic realm="bulwark-banking"');
      throw new HttpProblem(401, "invalid-client", "Unknown client or wrong secret");
    }
    const now = Math.floor(ctx.clock.now() / 1000);
    const token = await new SignJWT({ client_id: client.client_id })
      .setProtectedHeader({ alg: TOKEN_ALG, kid: signingKey.kid, typ: "JWT" })
      .setSubject(client.customer_id)
      .setJti(randomUUID())
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + ttl)
      .sign(signingKey.privateKey);
    reply.header("cache-control", "no-store");
    return { access_token: token, token_type: "Bearer", expires_in: ttl };
  });

  app.post(
    "/introspect",
    { schema: { body: IntrospectBody }, config: { auth: "service" } },
    async (request) => introspect(request.body.token),
  );

  const revoke = async (jti: string) => {
    const now = ctx.clock.now();
    // Any token with this jti expires within one lifetime of now; the revocation is kept that long.
    await repository.revoke(jti, now, now + ttl * 1000);
  };
  app.post(
    "/revoke",
    { schema: { body: RevokeBody }, config: { auth: "service" } },
    async (request, reply) => {
      await revoke(request.body.jti);
      return reply.code(204).send();
    },
  );
  service.registerAdmin(async (admin) => {
    admin.post("/revoke", { schema: { body: RevokeBody } }, async (request, reply) => {
      await revoke((request.body as Static<typeof RevokeBody>).jti);
      return reply.code(204).send();
    });
  });

  app.get("/.well-known/jwks.json", async (_request, reply) => {
    reply.header("cache-control", "public, max-age=300");
    return { keys: [{ ...signingKey.publicJwk, kid: signingKey.kid, alg: TOKEN_ALG, use: "sig" }] };
  });

  app.get(
    "/revocations",
    {
      schema: {
        querystring: Type.Object(
          { since: Type.Optional(Type.Integer({ minimum: 0 })) },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      // asOf lags now: a revocation stamped just before this read may commit just after it (or come from an
      // auth process with a slightly different clock), so the caller's next `since=asOf` reads it again.
      // Callers keep a set, so the overlap costs nothing.
      const asOf = ctx.clock.now() - REVOCATION_FEED_OVERLAP_MS;
      const revoked = await repository.revokedSince(request.query.since ?? 0, REVOCATION_FEED_LIMIT);
      const full = revoked.length === REVOCATION_FEED_LIMIT;
      // A full page: continue from its last entry rather than skip what did not fit.
      return { jtis: revoked.map((r) => r.jti), asOf: full ? revoked.at(-1)!.revokedAt : asOf };
    },
  );

  app.get(
    "/customers/:id/profile",
    { schema: { params: Type.Object({ id: Id }) }, config: { auth: "service" } },
    async (request) => {
      const customer = await repository.customer(request.params.id);
      if (!customer) throw new HttpProblem(404, "not-found", "No such customer", request.params.id);
      return customer;
    },
  );

  return { service, repository, signingKey, introspect };
}

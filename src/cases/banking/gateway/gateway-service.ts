import type { FastifyReply, FastifyRequest } from "fastify";
import { decodeJwt } from "jose";
import { bearerTokenOf, HttpProblem, type Service } from "../../../platform/http/index.ts";
import {
  isBrokenCircuitError,
  isBulkheadRejectedError,
  isTimeoutError,
  loadShedPlugin,
  MemoryRateLimitStore,
  type RateLimitPolicy,
  type RateLimitStore,
  rateLimitPlugin,
} from "../../../platform/resilience/index.ts";
import {
  type BankingDependency,
  failureReason,
  isDownstreamError,
  type OutgoingCalls,
} from "../clients/outgoing.ts";
import { type BankingContext, bankingService } from "../context.ts";
import { type Authenticator, authenticateRequest } from "../principal.ts";

export interface GatewayService {
  service: Service;
  rateLimitStore: RateLimitStore | undefined;
  rateLimitPolicy: RateLimitPolicy;
}

/** Response headers passed back to the client from a downstream answer. */
const PASSED_BACK = ["content-type", "retry-after", "idempotent-replayed", "location", "www-authenticate"];
/** Request headers passed on to the downstream. */
const PASSED_ON = ["authorization", "idempotency-key", "x-request-id"];

const infrastructure = (request: FastifyRequest) =>
  request.url.startsWith("/health/") || request.url === "/metrics" || request.url.startsWith("/admin/");

/**
 * The limiter's store, failing open: when Redis cannot answer, the request passes (and is logged) instead of
 * the whole edge answering 500. A rate limit protects the services; it must not become their outage.
 */
export function failOpen(
  store: RateLimitStore,
  logger: { warn(obj: object, msg: string): void },
): RateLimitStore {
  let warnedAt = 0;
  const warn = (err: unknown) => {
    const now = Date.now();
    if (now - warnedAt < 10_000) return;
    warnedAt = now;
    logger.warn({ err: (err as Error)?.message }, "rate-limit store unavailable: letting requests through");
  };
  return {
    async consume(key, policy, cost) {
      try {
        return await store.consume(key, policy, cost);
      } catch (err) {
        warn(err);
        return { allowed: true, remaining: 0, retryAfterMs: 0, resetAfterMs: 0, tat: Number.NaN };
      }
    },
    async refund(key, policy, cost) {
      await store.refund(key, policy, cost).catch(warn);
    },
  };
}

/** The partition key of the rate limit: the token's client (decoded, not verified: a forged one gets 401 and its quota back). */
export function clientKeyOf(request: FastifyRequest): string {
  const token = bearerTokenOf(request.headers.authorization);
  if (token) {
    try {
      const clientId = decodeJwt(token).client_id;
      if (typeof clientId === "string" && clientId !== "") return `client:${clientId}`;
    } catch {
      // not a JWT: fall through to the address
    }
  }
  return `ip:${request.ip}`;
}

/**
 * The edge: routes `/api/*` to the services, checks the bearer token (except on `/api/token`), rate-limits per
 * client (GCRA, switch `rateLimit`) and sheds load while the event loop lags (switch `loadShedding`). Every
 * proxied call goes through the outgoing-call helper, so each downstream has its own breaker and bulkhead and
 * gets the remaining deadline. A downstream failure becomes 502/503/504 problem+json, never a hang.
 */
export function createGatewayService(
  ctx: BankingContext,
  deps: { calls: OutgoingCalls; authenticator: Authenticator; rateLimitStore?: RateLimitStore },
): GatewayService {
  const { config } = ctx;
  // Only optional dependencies behind it: readiness must not follow a flaky downstream.
  const service = bankingService(ctx, "gateway", {});
  const { app } = service;
  const rateLimitPolicy: RateLimitPolicy = {
    name: "per-client",
    limit: config.rateLimit.perSecond,
    periodMs: 1_000,
    burst: config.rateLimit.burst,
  };
  let rateLimitStore: RateLimitStore | undefined;
  if (config.patterns.loadShedding) {
    app.register(loadShedPlugin, { maxLagMs: config.loadShedLagMs, skip: infrastructure });
  }
  if (config.patterns.rateLimit) {
    rateLimitStore = deps.rateLimitStore ?? new MemoryRateLimitStore();
    app.register(rateLimitPlugin, {
      store: failOpen(rateLimitStore, service.logger),
      policy: rateLimitPolicy,
      keyOf: clientKeyOf,
      skip: infrastructure,
    });
  }

  const proxy =
    (dependency: BankingDependency, pathOf: (request: FastifyRequest) => string) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      const headers: Record<string, string> = {};
      for (const name of PASSED_ON) {
        const value = request.headers[name];
        if (typeof value === "string") headers[name] = value;
      }
      headers["x-request-id"] ??= request.id;
      const method = request.method as "GET" | "POST";
      let answer: Awaited<ReturnType<OutgoingCalls["call"]>>;
      try {
        answer = await deps.calls.call(dependency, {
          method,
          path: pathOf(request),
          headers,
          ...(method === "POST" ? { body: request.body ?? {} } : {}),
          // A POST with an Idempotency-Key may be sent twice: the second answer replays the first.
          idempotent: method === "GET" || headers["idempotency-key"] !== undefined,
          asService: false,
        });
      } catch (err) {
        // A downstream's own 5xx answer passes through as it is (the BFF's 504 names its late section).
        if (isDownstreamError(err)) return passBack(reply, err.status, err.headers, err.body);
        const problem = problemOf(dependency, err);
        if (problem.status === 503) reply.header("retry-after", "1");
        throw problem;
      }
      return passBack(reply, answer.status, answer.headers, answer.body);
    };

  app.register(async (api) => {
    api.post(
      "/api/token",
      proxy("auth", () => "/token"),
    );
    api.register(async (guarded) => {
      guarded.addHook("preHandler", authenticateRequest(deps.authenticator));
      guarded.get(
        "/api/mobile/home",
        proxy("mobile", () => "/mobile/home"),
      );
      guarded.get<{ Params: { id: string } }>(
        "/api/accounts/:id/balance",
        proxy("accounts", (r) => `/accounts/${encodeURIComponent((r.params as { id: string }).id)}/balance`),
      );
      guarded.get(
        "/api/accounts/:id/transactions",
        proxy("history", (r) => {
          const query = r.url.includes("?") ? r.url.slice(r.url.indexOf("?")) : "";
          return `/accounts/${encodeURIComponent((r.params as { id: string }).id)}/transactions${query}`;
        }),
      );
      guarded.post(
        "/api/transfers",
        proxy("accounts", () => "/transfers"),
      );
    });
  });
  return { service, rateLimitStore, rateLimitPolicy };
}

function passBack(reply: FastifyReply, status: number, headers: Headers, body: unknown): FastifyReply {
  for (const name of PASSED_BACK) {
    const value = headers.get(name);
    if (value !== null) reply.header(name, value);
  }
  return reply.code(status).send(body);
}

/** A downstream failure as the client sees it: 504 for a timeout, 503 (+ Retry-After) when refused fast, 502 else. */
export function problemOf(dependency: string, err: unknown): HttpProblem {
  const reason = failureReason(err);
  if (isTimeoutError(err)) {
    return new HttpProblem(
      504,
      "dependency-timeout",
      "Gateway Timeout",
      `${dependency} did not answer in time`,
    );
  }
  if (isBrokenCircuitError(err) || isBulkheadRejectedError(err)) {
    return new HttpProblem(503, "dependency-unavailable", "Service Unavailable", `${dependency}: ${reason}`, {
      dependency,
    });
  }
  return new HttpProblem(502, "bad-gateway", "Bad Gateway", `${dependency}: ${reason}`, { dependency });
}

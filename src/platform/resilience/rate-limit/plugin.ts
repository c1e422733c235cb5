import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { RateLimitPolicy } from "./gcra.ts";
import { rateLimitHeader, rateLimitPolicyHeader, retryAfterSeconds } from "./headers.ts";
import type { RateLimitStore } from "./store.ts";

export interface RateLimitPluginOptions {
  store: RateLimitStore;
  policy: RateLimitPolicy;
  /** Partition key of a request. Default: the `x-api-key` header, else the client IP. */
  keyOf?: (request: FastifyRequest) => string;
  /** Cost of a request. Default 1. */
  costOf?: (request: FastifyRequest) => number;
  /** Requests that bypass the limit (health checks, metrics). */
  skip?: (request: FastifyRequest) => boolean;
  /**
   * Give the quota back when the response is 401 or 403, as the IETF draft asks. Default true. The
   * request is counted first (we cannot know the status in advance) and refunded when it completes.
   */
  refundAuthFailures?: boolean;
}

const PROBLEM_TYPE = "https://bulwark.dev/problems/quota-exceeded";

function defaultKey(request: FastifyRequest): string {
  const apiKey = request.headers["x-api-key"];
  if (typeof apiKey === "string" && apiKey !== "") return `key:${apiKey}`;
  return `ip:${request.ip}`;
}

declare module "fastify" {
  interface FastifyRequest {
    bulwarkRateLimit?: { key: string; cost: number };
  }
}

async function rateLimit(app: FastifyInstance, options: RateLimitPluginOptions): Promise<void> {
  const { store, policy } = options;
  const keyOf = options.keyOf ?? defaultKey;
  const costOf = options.costOf ?? (() => 1);
  const refund = options.refundAuthFailures ?? true;
  const policyHeader = rateLimitPolicyHeader(policy);
  const name = policy.name ?? "default";

  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    if (options.skip?.(request)) return;
    const key = keyOf(request);
    const cost = costOf(request);
    const decision = await store.consume(key, policy, cost);
    reply.header("RateLimit-Policy", policyHeader);
    reply.header("RateLimit", rateLimitHeader(policy, decision));
    if (decision.allowed) {
      request.bulwarkRateLimit = { key, cost };
      return;
    }
    const seconds = retryAfterSeconds(decision);
    return reply
      .code(429)
      .header("Retry-After", String(seconds))
      .type("application/problem+json")
      .send({
        type: PROBLEM_TYPE,
        title: "Too Many Requests",
        status: 429,
        detail: `quota of ${policy.limit} requests per ${Math.ceil(policy.periodMs / 1000)} s exceeded; retry in ${seconds} s`,
        "violated-policies": [name],
      });
  });

  if (refund) {
    app.addHook("onResponse", async (request: FastifyRequest, reply: FastifyReply) => {
      const spent = request.bulwarkRateLimit;
      if (spent !== undefined && (reply.statusCode === 401 || reply.statusCode === 403)) {
        await store.refund(spent.key, policy, spent.cost);
      }
    });
  }
}

/**
 * Fastify plugin: GCRA rate limiting with the IETF draft headers (`RateLimit-Policy`, `RateLimit`) on
 * every response, and 429 + `Retry-After` + an RFC 9457 problem body on refusal. It applies to the
 * instance it is registered on, parents included (it skips encapsulation like fastify-plugin does).
 */
export const rateLimitPlugin = Object.assign(rateLimit, {
  [Symbol.for("skip-override")]: true,
  [Symbol.for("fastify.display-name")]: "bulwark-rate-limit",
});

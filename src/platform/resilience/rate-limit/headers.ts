import type { RateLimitDecision, RateLimitPolicy } from "./gcra.ts";

/** `RateLimit-Policy: "default";q=100;w=60` (draft-ietf-httpapi-ratelimit-headers-10). */
export function rateLimitPolicyHeader(policy: RateLimitPolicy): string {
  return `"${policy.name ?? "default"}";q=${policy.limit};w=${Math.ceil(policy.periodMs / 1000)}`;
}

/** `RateLimit: "default";r=50;t=30`: what remains, and seconds until the quota is fully restored. */
export function rateLimitHeader(policy: RateLimitPolicy, decision: RateLimitDecision): string {
  return `"${policy.name ?? "default"}";r=${decision.remaining};t=${Math.ceil(decision.resetAfterMs / 1000)}`;
}

/** `Retry-After` in whole seconds, never 0 for a refusal (0 would invite an immediate retry). */
export function retryAfterSeconds(decision: RateLimitDecision): number {
  return Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
}

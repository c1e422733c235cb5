/**
 * A rate-limit policy in GCRA terms: `limit` requests per `periodMs`, with bursts of up to `burst`
 * requests at once (default `limit`, so a quiet client may spend its whole quota at once).
 */
export interface RateLimitPolicy {
  /** Policy name, as shown in the RateLimit headers. Default "default". */
  name?: string;
  limit: number;
  periodMs: number;
  burst?: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** Requests of cost 1 still allowed right now. */
  remaining: number;
  /** Milliseconds until a request of this cost would be allowed; 0 when allowed. */
  retryAfterMs: number;
  /** Milliseconds until the quota is fully restored. */
  resetAfterMs: number;
  /** The theoretical arrival time to store (unchanged when denied). */
  tat: number;
}

/** GCRA's constants: emission interval T = period/limit and tolerance τ = T·(burst−1). */
export function gcraParams(p: RateLimitPolicy): { emissionMs: number; toleranceMs: number } {
  const emissionMs = p.periodMs / p.limit;
  return { emissionMs, toleranceMs: emissionMs * ((p.burst ?? p.limit) - 1) };
}

/**
 * One GCRA step, exactly as in REFERENCES.md: tat = max(TAT, now), new = tat + c·T; allow iff
 * new − now ≤ τ + T; remaining = floor((τ + T − (new − now)) / T); when denied retryAfter = new − τ − T − now.
 * `storedTat` is undefined for a key never seen (or expired). The Redis Lua script mirrors this function.
 */
export function gcra(
  storedTat: number | undefined,
  now: number,
  cost: number,
  emissionMs: number,
  toleranceMs: number,
): RateLimitDecision {
  const tat = storedTat === undefined || storedTat < now ? now : storedTat;
  const next = tat + cost * emissionMs;
  const limit = toleranceMs + emissionMs;
  if (next - now <= limit) {
    return {
      allowed: true,
      remaining: Math.floor((limit - (next - now)) / emissionMs),
      retryAfterMs: 0,
      resetAfterMs: next - now,
      tat: next,
    };
  }
  return {
    allowed: false,
    remaining: Math.max(0, Math.floor((limit - (tat - now)) / emissionMs)),
    retryAfterMs: next - toleranceMs - emissionMs - now,
    resetAfterMs: tat - now,
    tat,
  };
}

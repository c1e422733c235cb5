import type { Backoff } from "./types.ts";

/** `initialMs` doubling per attempt, capped at `maxMs`. */
export function exponentialBackoff(initialMs = 100, maxMs = 30_000): Backoff {
  return (attempt) => Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
}

export function constantBackoff(ms: number): Backoff {
  return () => ms;
}

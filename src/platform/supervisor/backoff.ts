export interface RestartBackoff {
  /** First restart delay, ms. Defaults to 100. */
  initialMs?: number;
  /** Ceiling, ms. Defaults to 5,000. */
  maxMs?: number;
  /** Growth per consecutive crash. Defaults to 2. */
  factor?: number;
  /** A process up this long (ms) counts as healthy again: the next crash starts from `initialMs`. Defaults to 10,000. */
  resetAfterMs?: number;
}

export function restartDelay(backoff: RestartBackoff, consecutiveFailures: number): number {
  const initial = backoff.initialMs ?? 100;
  const factor = backoff.factor ?? 2;
  return Math.min(backoff.maxMs ?? 5_000, initial * factor ** Math.max(0, consecutiveFailures - 1));
}

/** mulberry32: a tiny seeded PRNG, so "a random instance" is reproducible from a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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

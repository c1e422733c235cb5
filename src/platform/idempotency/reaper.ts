import type { Logger } from "pino";
import { type Clock, systemClock } from "../time/index.ts";
import type { IdempotencyStore } from "./idempotency-store.ts";

/** Deletes expired keys every `intervalMs`. Returns a stop function. */
export function startIdempotencyReaper(
  store: IdempotencyStore,
  {
    intervalMs = 60_000,
    clock = systemClock,
    logger,
  }: { intervalMs?: number; clock?: Clock; logger?: Logger } = {},
): () => void {
  let stopped = false;
  let timer = clock.setTimeout(tick, intervalMs);
  async function tick() {
    try {
      const removed = await store.reap();
      if (removed > 0) logger?.debug({ removed }, "reaped expired idempotency keys");
    } catch (err) {
      logger?.warn({ err }, "idempotency reaper failed; will retry");
    }
    if (!stopped) timer = clock.setTimeout(tick, intervalMs);
  }
  return () => {
    stopped = true;
    timer.cancel();
  };
}

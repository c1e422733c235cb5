import type { Logger } from "pino";
import type { Bus, GroupPosition } from "../../../platform/messaging/index.ts";
import { type Clock, systemClock } from "../../../platform/time/index.ts";
import { TOPICS } from "../events.ts";
import { RawTradeLoader } from "./loader.ts";
import { createRawTable, type RawTrades } from "./raw-trades.ts";

/** Consumer group of backfills; reset at each run. */
export const BACKFILL_GROUP = "analytics-backfill";

export interface BackfillProgress {
  loaded: number;
  lag: number;
}

export interface BackfillResult {
  table: string;
  loaded: number;
  rows: number;
  durationMs: number;
}

/** `--from` as a group position: a log offset (an integer), or a time (ISO 8601, or `time:<epoch ms>`). */
export function parseFrom(text: string): GroupPosition | undefined {
  if (text === "earliest") return { earliest: true };
  if (/^\d+$/.test(text)) return { offset: Number(text) };
  const epoch = /^time:(\d+)$/.exec(text);
  if (epoch) return { time: Number(epoch[1]) };
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined;
  const time = Date.parse(text);
  return Number.isNaN(time) ? undefined : { time };
}

/**
 * Rebuilds batch mode's raw trades table from the log: resets the backfill group to `from`, loads every frame
 * into a fresh table until the group has no lag, then swaps it in (one transaction), keeping rows the live loader
 * stored meanwhile. Readers see the old table until the swap, the new one after.
 */
export async function backfill(options: {
  bus: Bus;
  raw: RawTrades;
  from: GroupPosition;
  logger: Logger;
  clock?: Clock;
  group?: string;
  onProgress?: (p: BackfillProgress) => void;
  progressEveryMs?: number;
  signal?: AbortSignal;
}): Promise<BackfillResult> {
  const clock = options.clock ?? systemClock;
  const group = options.group ?? BACKFILL_GROUP;
  const started = clock.now();
  const table = `raw_trades_b${started.toString(36)}`;
  await createRawTable(options.raw.store.db, table);
  await options.bus.resetGroup(TOPICS.trades, group, options.from);
  const loader = new RawTradeLoader({
    bus: options.bus,
    raw: options.raw,
    clock,
    logger: options.logger,
    group,
    table,
  });
  loader.start();
  try {
    for (;;) {
      const lag = await options.bus.lag(TOPICS.trades, group);
      options.onProgress?.({ loaded: loader.loaded, lag });
      if (lag === 0) break;
      if (options.signal?.aborted) throw new Error("backfill aborted; the live table is unchanged");
      await clock.sleep(options.progressEveryMs ?? 200);
    }
  } catch (err) {
    await loader.stop();
    await options.raw.store.db.schema.dropTable(table).ifExists().execute();
    throw err;
  }
  await loader.stop();
  await options.raw.swap(table, started);
  return {
    table,
    loaded: loader.loaded,
    rows: await options.raw.count(),
    durationMs: clock.now() - started,
  };
}

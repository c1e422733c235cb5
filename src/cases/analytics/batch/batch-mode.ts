import type { Logger } from "pino";
import type { Bus } from "../../../platform/messaging/index.ts";
import type { Store } from "../../../platform/storage/index.ts";
import type { Clock } from "../../../platform/time/index.ts";
import type { AnalyticsConfig } from "../config.ts";
import { TOPICS, WindowsUpdated } from "../events.ts";
import type { ShardedStore } from "../store/index.ts";
import { RawTradeLoader } from "./loader.ts";
import { RawTrades } from "./raw-trades.ts";
import { BatchRecompute } from "./recompute.ts";

/** The aux store (SQLite file or Postgres schema) of batch mode's raw trades. */
export const RAW_STORE = "analytics_raw";

export interface BatchMode {
  raw: RawTrades;
  loader: RawTradeLoader;
  recompute: BatchRecompute;
  start(): void;
  stop(): Promise<void>;
}

/**
 * Batch mode in the processor role: the loader fills the raw trades table from `analytics-trades`, and the
 * periodic recompute rewrites the shard tables from it, then announces the result like the stream processor
 * does (a window event), so the query role measures freshness the same way in both modes.
 */
export async function createBatchMode(deps: {
  config: AnalyticsConfig;
  bus: Bus;
  shards: ShardedStore;
  openAuxStore(name: string): Promise<Store>;
  clock: Clock;
  logger: Logger;
}): Promise<BatchMode> {
  const raw = await RawTrades.open(await deps.openAuxStore(RAW_STORE));
  const loader = new RawTradeLoader({ bus: deps.bus, raw, clock: deps.clock, logger: deps.logger });
  const recompute = new BatchRecompute({
    config: deps.config,
    raw,
    shards: deps.shards,
    clock: deps.clock,
    logger: deps.logger,
    onRecomputed: async (r) => {
      await deps.bus
        .publish(
          TOPICS.windowEvents,
          "batch",
          WindowsUpdated.create({
            symbols: r.symbols,
            windowEnd: r.windowEnd,
            watermark: r.watermark,
            at: r.at,
          }),
        )
        .catch((err: unknown) => deps.logger.warn({ err }, "publishing the batch window event failed"));
    },
  });
  return {
    raw,
    loader,
    recompute,
    start() {
      loader.start();
      recompute.start();
    },
    async stop() {
      await recompute.stop();
      await loader.stop();
    },
  };
}

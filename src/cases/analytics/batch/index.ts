export {
  BACKFILL_GROUP,
  type BackfillProgress,
  type BackfillResult,
  backfill,
  parseFrom,
} from "./backfill.ts";
export { type BatchMode, createBatchMode, RAW_STORE } from "./batch-mode.ts";
export { BATCH_LOADER_GROUP, RawTradeLoader, tradesOfMessage } from "./loader.ts";
export {
  createRawTable,
  RAW_NAMESPACE,
  RAW_TABLE,
  type RawDb,
  RawTrades,
  type RawTradesTable,
  rawMigrations,
} from "./raw-trades.ts";
export { BatchRecompute, type BatchRecomputeOptions, type RecomputeResult } from "./recompute.ts";
export { type DailyReport, type DailySymbolReport, dailyReport, dayRange, reportCsv } from "./report.ts";

export { decodeTrades, encodeTrades } from "./codec.ts";
export { FeedError, type FeedErrorCode, isFeedError } from "./errors.ts";
export { toEventBatch } from "./event-batch.ts";
export {
  type BurstOptions,
  type DisorderOptions,
  FeedGenerator,
  type FeedOptions,
  type FeedStats,
} from "./generator.ts";
export {
  ASSET_CLASSES,
  type AssetClass,
  batchOf,
  createTradeBatch,
  type Instrument,
  SYMBOL_PATTERN,
  type Trade,
  type TradeBatch,
  tradesOf,
} from "./trade.ts";
export { createUniverse, type Listing } from "./universe.ts";
export { ZipfSampler } from "./zipf.ts";

export { Dedupe, type DedupeOptions, type DedupeSnapshot } from "./dedupe.ts";
export { invalidOption, isStreamError, StreamError, type StreamErrorCode } from "./errors.ts";
export {
  type Anomaly,
  IndicatorOperator,
  type IndicatorOptions,
  type IndicatorSnapshot,
  type Indicators,
} from "./indicators.ts";
export { KeyInterner, type KeyInternerSnapshot } from "./key-interner.ts";
export { gather, type PartitionPlan, partitionOf, planPartitions } from "./partition.ts";
export {
  KeyedWindowPipeline,
  type KeyedWindowPipelineOptions,
  type KeyedWindowPipelineSnapshot,
} from "./pipeline.ts";
export { ema, meanAndStd, sma } from "./stats.ts";
export {
  type Checkpointable,
  createEventBatch,
  type EventBatch,
  type LateSink,
  type Watermark,
  type WindowResult,
  watermarkFromJson,
  watermarkToJson,
} from "./types.ts";
export {
  WatermarkTracker,
  type WatermarkTrackerOptions,
  type WatermarkTrackerSnapshot,
} from "./watermarks.ts";
export {
  WindowAggregator,
  type WindowAggregatorOptions,
  type WindowAggregatorSnapshot,
  type WindowAggregatorStats,
} from "./window-aggregator.ts";
export {
  expiryOf,
  hopping,
  lastWindowStart,
  tumbling,
  type WindowAssigner,
  windowStartsFor,
} from "./windows.ts";

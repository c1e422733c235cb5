import { Type } from "@sinclair/typebox";
import { defineEvent, EventRegistry } from "../../platform/messaging/index.ts";

/** Topics of the analytics case. */
export const TOPICS = {
  /** Trade frames (many trades per message, the binary columnar codec), partitioned by symbol. */
  trades: "analytics-trades",
  /** One message per processor checkpoint: which symbols' windows changed, for cache invalidation. */
  windowEvents: "analytics-window-events",
  /** Anomalies the processor detected (volume spikes, return z-scores). */
  anomalies: "analytics-anomalies",
  /**
   * Never published to: processors subscribe to it only so the bus's consumer group assigns them the trade
   * partitions (same count). They read the trades themselves, to commit offsets only after a checkpoint.
   */
  assignment: "analytics-processor-assignment",
} as const;

/** Consumer group of the stream processors. */
export const PROCESSOR_GROUP = "analytics-processor";

/**
 * A frame of trades of one partition: `frame` is the base64 of encodeTrades(), since log payloads are JSON.
 * One publish costs 20–40 µs on JetStream, so one message per trade could not reach the throughput targets.
 */
export const TradeFrame = defineEvent(
  "TradeFrame",
  1,
  Type.Object({
    frame: Type.String({ minLength: 1 }),
    count: Type.Integer({ minimum: 1 }),
    /** Epoch ms when ingest accepted the trades: the start of the freshness measure. */
    ingestedAt: Type.Number(),
  }),
);

/** Published after each checkpoint commit: the query service drops these symbols' cache entries. */
export const WindowsUpdated = defineEvent(
  "WindowsUpdated",
  1,
  Type.Object({
    symbols: Type.Array(Type.String()),
    /** Largest end of a closed window whose result is now stored. */
    windowEnd: Type.Number(),
    watermark: Type.Number(),
    /** Epoch ms of the checkpoint commit. */
    at: Type.Number(),
  }),
);

/**
 * Published after a flush that stored newer latest trades (at most every flushIntervalMs per partition, far
 * more often than a checkpoint): the query service drops those symbols' cached `latest` answers, so a trade
 * reaches the `latest` tile without waiting for the next window event.
 */
export const LatestTradesUpdated = defineEvent(
  "LatestTradesUpdated",
  1,
  Type.Object({
    symbols: Type.Array(Type.String()),
    /** Epoch ms of the flush's commit. */
    at: Type.Number(),
  }),
);

export const AnomalyDetected = defineEvent(
  "AnomalyDetected",
  1,
  Type.Object({
    symbol: Type.String(),
    windowMs: Type.Integer(),
    windowStart: Type.Number(),
    kind: Type.String(),
    score: Type.Number(),
    value: Type.Number(),
    exchange: Type.String(),
    assetClass: Type.String(),
    at: Type.Number(),
  }),
);

export function analyticsEventRegistry(): EventRegistry {
  return new EventRegistry()
    .register(TradeFrame)
    .register(WindowsUpdated)
    .register(LatestTradesUpdated)
    .register(AnomalyDetected);
}

import { type Static, Type } from "@sinclair/typebox";
import { Section } from "../../platform/config/index.ts";

const Port = (port: number) => Type.Integer({ minimum: 0, maximum: 65535, default: port });

/** The analytics case's settings: streaming (the "after" architecture) or batch (the "before"), shards, cache. */
export const AnalyticsConfigSchema = Section({
  enabled: Type.Boolean({ default: true, description: "start the analytics services with the system" }),
  mode: Type.Union([Type.Literal("stream"), Type.Literal("batch")], {
    default: "stream",
    description:
      "stream: processor + sharded store + cache; batch: periodic recompute from raw trades, no cache",
  }),
  ports: Section({ ingest: Port(3201), query: Port(3202), processor: Port(3203) }),
  partitions: Type.Integer({ minimum: 1, maximum: 256, default: 8, description: "trade topic partitions" }),
  windows: Section({
    sizeMs: Type.Integer({ minimum: 100, default: 1_000, description: "tumbling window size (event time)" }),
    outOfOrdernessMs: Type.Integer({ minimum: 0, default: 2_000, description: "watermark bound" }),
    allowedLatenessMs: Type.Integer({ minimum: 0, default: 5_000 }),
    idleTimeoutMs: Type.Integer({
      minimum: 100,
      default: 5_000,
      description: "a quiet partition stops holding W",
    }),
    movingAverageWindows: Type.Integer({ minimum: 1, default: 20, description: "N for SMA and EMA" }),
    zScoreThreshold: Type.Number({ exclusiveMinimum: 0, default: 4 }),
    volumeSpikeFactor: Type.Number({ exclusiveMinimum: 1, default: 5 }),
  }),
  checkpointIntervalMs: Type.Integer({ minimum: 10, default: 1_000 }),
  latestFlushMs: Type.Optional(
    Type.Integer({
      minimum: 1,
      description:
        "longest wait of a partition's latest trades for their upsert (closed windows go at once); " +
        "default 20 on the embedded profile, 50 on the distributed one",
    }),
  ),
  shards: Section({
    by: Type.Union([Type.Literal("exchange"), Type.Literal("assetClass")], { default: "exchange" }),
    count: Type.Integer({ minimum: 1, maximum: 64, default: 4 }),
    map: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), {
      default: {},
      description: "exchange or asset class → shard index; unlisted values hash to a shard",
    }),
  }),
  cache: Section({
    enabled: Type.Boolean({ default: true, description: "cache-aside in front of the query API's reads" }),
    maxEntries: Type.Integer({ minimum: 1, default: 10_000 }),
    ttlMs: Type.Integer({ minimum: 1, default: 5_000 }),
  }),
  batch: Section({
    recomputeIntervalMs: Type.Integer({
      minimum: 100,
      default: 60_000,
      description: "batch mode's recompute period",
    }),
  }),
  liveFeed: Section({
    rate: Type.Number({
      minimum: 0,
      default: 200,
      description: "trades/s of the demo feed at start (0: none)",
    }),
    symbols: Type.Integer({ minimum: 1, default: 50 }),
    seed: Type.Integer({ default: 42 }),
  }),
});

export type AnalyticsConfig = Static<typeof AnalyticsConfigSchema>;

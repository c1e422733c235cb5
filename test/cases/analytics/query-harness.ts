import { Redis } from "ioredis";
import type { Registry } from "prom-client";
import { AnalyticsConfigSchema } from "../../../src/cases/analytics/config.ts";
import { LatestTradesUpdated, TOPICS, WindowsUpdated } from "../../../src/cases/analytics/events.ts";
import {
  type AnalyticsReads,
  createQueryService,
  type QueryService,
  ShardedReads,
} from "../../../src/cases/analytics/query/index.ts";
import {
  type AnomaliesTable,
  emptyWrites,
  openShardedStore,
  type ShardedStore,
  type ShardWrites,
  type WindowResultsTable,
} from "../../../src/cases/analytics/store/index.ts";
import { type Cache, memoryCache, redisCache } from "../../../src/platform/cache/index.ts";
import { loadConfig } from "../../../src/platform/config/index.ts";
import type { Bus } from "../../../src/platform/messaging/index.ts";
import { createLogger, createMetricsRegistry } from "../../../src/platform/observability/index.ts";
import type { Store } from "../../../src/platform/storage/index.ts";
import { busFor } from "../../support/buses.ts";
import { SERVICES, uniqueName } from "../../support/services.ts";
import type { StoreTarget } from "../../support/stores.ts";

export const logger = createLogger({ level: process.env.BULWARK_TEST_LOG ?? "silent" });

/** Two shards: XNAS on shard 0, XLON on shard 1. */
export function analyticsConfig(overrides: Record<string, unknown> = {}) {
  return loadConfig(AnalyticsConfigSchema, {
    env: {},
    overrides: {
      ports: { ingest: 0, query: 0, processor: 0 },
      shards: { by: "exchange", count: 2, map: { XNAS: 0, XLON: 1 } },
      liveFeed: { rate: 0 },
      ...overrides,
    },
  });
}

export function windowRow(
  symbol: string,
  exchange: string,
  start: number,
  prices: { open: number; close: number },
  windowMs = 1_000,
): WindowResultsTable {
  return {
    symbol,
    window_ms: windowMs,
    window_start: start,
    window_end: start + windowMs,
    exchange,
    asset_class: "equity",
    count: 3,
    volume: 30,
    vwap: (prices.open + prices.close) / 2,
    open: prices.open,
    high: Math.max(prices.open, prices.close),
    low: Math.min(prices.open, prices.close),
    close: prices.close,
    sma: prices.close - 0.5,
    ema: prices.close - 0.25,
    revision: 0,
    updated_at: start + windowMs,
  };
}

export function anomalyRow(symbol: string, exchange: string, at: number): AnomaliesTable {
  return {
    symbol,
    window_ms: 1_000,
    window_start: at - 1_000,
    kind: "volume-spike",
    score: 6,
    value: 600,
    exchange,
    asset_class: "equity",
    at,
  };
}

/** One listing's writes: its symbols row plus the given rows. */
export function writesFor(
  symbol: string,
  exchange: string,
  rows: Partial<Omit<ShardWrites, "symbols">>,
): ShardWrites {
  return {
    ...emptyWrites(),
    symbols: [{ symbol, exchange, asset_class: "equity" }],
    windows: rows.windows ?? [],
    latest: rows.latest ?? [],
    anomalies: rows.anomalies ?? [],
  };
}

export interface QueryFixture {
  shards: ShardedStore;
  bus: Bus;
  cache: Cache;
  registry: Registry;
  query: QueryService;
  write(symbol: string, exchange: string, rows: Partial<Omit<ShardWrites, "symbols">>): Promise<void>;
  /** Publishes what the processor publishes after a checkpoint. */
  windowsClosed(symbols: string[], windowEnd: number): Promise<void>;
  /** Publishes what the processor publishes after a flush that stored newer latest trades. */
  latestStored(symbols: string[]): Promise<void>;
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers of several shapes.
  get(url: string): Promise<{ status: number; body: any; contentType: string }>;
  counter(name: string, labels?: Record<string, string>): Promise<number>;
  /** Observations of a histogram. */
  observed(name: string): Promise<number>;
  close(): Promise<void>;
}

/** The query service on one profile: SQLite + embedded log + memory cache, or Postgres + JetStream + Redis. */
export async function queryFixture(
  target: StoreTarget,
  options: { wrapReads?: (reads: AnalyticsReads) => AnalyticsReads } = {},
): Promise<QueryFixture> {
  const config = analyticsConfig();
  const stores: Store[] = [];
  const main = await target.open();
  stores.push(main);
  const shards = await openShardedStore({
    config: config.shards,
    open: async () => {
      const s = await target.open();
      stores.push(s);
      return s;
    },
  });
  const { bus } = await busFor(main);
  await bus.declareTopic({ name: TOPICS.windowEvents, partitions: 1 });
  const registry = createMetricsRegistry();
  let redis: Redis | undefined;
  const keyPrefix = `${uniqueName("bwk_q")}:`;
  let cache: Cache;
  if (target.name === "postgres") {
    redis = new Redis(SERVICES.redis.url);
    cache = redisCache({ namespace: "analytics-query", redis, keyPrefix, registry, defaultTtlMs: 60_000 });
  } else {
    cache = memoryCache({ namespace: "analytics-query", registry, defaultTtlMs: 60_000 });
  }
  const plain = new ShardedReads(shards);
  const query = createQueryService({
    config,
    reads: options.wrapReads ? options.wrapReads(plain) : plain,
    cache,
    bus,
    group: uniqueName("query"),
    logger,
    registry,
    http: { host: "127.0.0.1", port: 0 },
  });
  await query.service.app.ready();
  return {
    shards,
    bus,
    cache,
    registry,
    query,
    async write(symbol, exchange, rows) {
      await shards.write(shards.shardIndexOf(exchange), writesFor(symbol, exchange, rows));
    },
    async windowsClosed(symbols, windowEnd) {
      await bus.publish(
        TOPICS.windowEvents,
        "p0",
        WindowsUpdated.create({ symbols, windowEnd, watermark: windowEnd, at: Date.now() }),
      );
    },
    async latestStored(symbols) {
      await bus.publish(TOPICS.windowEvents, "p0", LatestTradesUpdated.create({ symbols, at: Date.now() }));
    },
    async get(url) {
      const res = await query.service.app.inject({ method: "GET", url });
      return {
        status: res.statusCode,
        body: res.body ? JSON.parse(res.body) : undefined,
        contentType: String(res.headers["content-type"] ?? ""),
      };
    },
    async counter(name, labels = {}) {
      const metric = await registry.getSingleMetric(name)?.get();
      return (metric?.values ?? [])
        .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k as never] === x))
        .reduce((sum, v) => sum + v.value, 0);
    },
    async observed(name) {
      const metric = (await registry.getSingleMetric(name)?.get()) as
        | { values: Array<{ metricName?: string; value: number }> }
        | undefined;
      return (metric?.values ?? [])
        .filter((v) => v.metricName === `${name}_count`)
        .reduce((sum, v) => sum + v.value, 0);
    },
    async close() {
      await query.service.stop();
      await bus.close();
      if (redis) {
        const keys = await redis.keys(`${keyPrefix}*`);
        if (keys.length > 0) await redis.del(...keys);
        await redis.quit();
      }
      for (const s of stores) await s.close();
    },
  };
}

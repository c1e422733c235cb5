// npm run bench -- cache [--trades 300000] [--symbols 50] [--requests 1000] [--rounds 3]
// Query latency of GET /symbols/:symbol/latest, p95 per round, median over rounds, three ways on the embedded
// profile (SQLite), each through the whole HTTP stack (Fastify inject: routing, validation, serialization):
//   raw      the "before" read: computed at request time from the raw trades table (no precomputed tables)
//   tables   the shard tables the processor (or the batch recompute) keeps, no cache
//   cached   the query service's cache-aside (memory LRU) in front of the tables, warm
//   redis    the same with the Redis cache (when Redis answers at REDIS_URL, default redis://127.0.0.1:6379)
// The anchor is `raw`: the target is cached ≥ 20× faster at p95.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { sql } from "kysely";
import { BatchRecompute, RAW_TABLE, RawTrades } from "../src/cases/analytics/batch/index.ts";
import { AnalyticsConfigSchema } from "../src/cases/analytics/config.ts";
import { FeedGenerator, tradesOf } from "../src/cases/analytics/feed/index.ts";
import {
  type AnalyticsReads,
  createQueryService,
  type LatestView,
  ShardedReads,
} from "../src/cases/analytics/query/index.ts";
import { openShardedStore } from "../src/cases/analytics/store/index.ts";
import { type Cache, memoryCache, redisCache } from "../src/platform/cache/index.ts";
import { loadConfig } from "../src/platform/config/index.ts";
import { createLogger, createMetricsRegistry } from "../src/platform/observability/index.ts";
import { openStore } from "../src/platform/storage/index.ts";
import { IndicatorOperator, type WindowResult } from "../src/platform/stream/index.ts";
import { median, percentile, report } from "./_report.ts";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const TRADES = arg("trades", 300_000);
const SYMBOLS = arg("symbols", 50);
const REQUESTS = arg("requests", 1_000);
const ROUNDS = arg("rounds", 3);

const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-cache-"));
const config = loadConfig(AnalyticsConfigSchema, { env: {}, overrides: { shards: { count: 4 } } });
const logger = createLogger({ level: "silent" });

function withoutKey({ key: _key, ...fields }: WindowResult): Omit<WindowResult, "key"> {
  return fields;
}

/** The "before" read: no precomputed tables, so each request aggregates the symbol's raw trades. */
class RawTradeReads implements Pick<AnalyticsReads, "latest"> {
  readonly #raw: RawTrades;
  constructor(raw: RawTrades) {
    this.#raw = raw;
  }
  async latest(symbol: string, windowMs: number): Promise<LatestView | undefined> {
    const db = this.#raw.store.db;
    const last = await db
      .selectFrom(RAW_TABLE)
      .selectAll()
      .where("symbol", "=", symbol)
      .orderBy("ts", "desc")
      .limit(1)
      .executeTakeFirst();
    if (!last) return undefined;
    // Closed windows as the batch recompute sees them (watermark = newest trade of all − outOfOrdernessMs), every
    // window of the symbol aggregated at request time, the last N closes for SMA/EMA.
    const newest = await db
      .selectFrom(RAW_TABLE)
      .select((eb) => eb.fn.max("ts").as("ts"))
      .executeTakeFirst();
    const end = Math.floor((Number(newest?.ts) - config.windows.outOfOrdernessMs) / windowMs) * windowMs;
    const n = config.windows.movingAverageWindows;
    const { rows } = await sql<{
      ws: number;
      open: number;
      high: number;
      low: number;
      close: number;
      count: number;
      volume: number;
      vwap: number;
    }>`
      with t as (
        select price, size, ts, ts - (ts % ${windowMs}) as ws,
          row_number() over (partition by ts - (ts % ${windowMs}) order by ts, trade_id) as rf,
          row_number() over (partition by ts - (ts % ${windowMs}) order by ts desc, trade_id desc) as rl
        from ${sql.table(RAW_TABLE)}
        where symbol = ${symbol} and ts < ${end}
      )
      select ws, max(case when rf = 1 then price end) as open, max(price) as high, min(price) as low,
        max(case when rl = 1 then price end) as close, count(*) as count, sum(size) as volume,
        sum(price * size) / sum(size) as vwap
      from t group by ws order by ws`.execute(db);
    const windows: WindowResult[] = rows.map((r) => ({
      key: 0,
      start: Number(r.ws),
      end: Number(r.ws) + windowMs,
      count: Number(r.count),
      volume: r.volume,
      vwap: r.vwap,
      open: r.open,
      high: r.high,
      low: r.low,
      close: r.close,
      revision: 0,
    }));
    // The moving averages by the product's own definition (the stream's IndicatorOperator: SMA and EMA of the
    // last N windows' VWAPs), over the windows just aggregated. The bench's own closes-based formula had
    // drifted from it when batch mode moved to the operator, and the answers check below then failed.
    let sma: number | null = null;
    let ema: number | null = null;
    const indicators = new IndicatorOperator({
      period: n,
      onIndicators: (i) => {
        sma = i.sma;
        ema = i.ema;
      },
    });
    for (const window of windows) indicators.process(window);
    const w = windows.at(-1);
    return {
      symbol,
      exchange: last.exchange,
      assetClass: last.asset_class,
      lastTrade: { tradeId: Number(last.trade_id), price: last.price, size: last.size, ts: Number(last.ts) },
      lastWindow: w ? { windowMs, ...withoutKey(w), sma, ema } : null,
      sma,
      ema,
    };
  }
}

try {
  process.stderr.write(`cache bench: loading ${TRADES} trades of ${SYMBOLS} symbols into SQLite…\n`);
  const raw = await RawTrades.open(await openStore({ kind: "sqlite", file: join(dir, "raw.db") }));
  const feed = new FeedGenerator({ seed: 7, symbols: SYMBOLS, rate: 1_000 });
  const batch = feed.createBatch(10_000);
  for (let loaded = 0; loaded < TRADES; ) {
    batch.length = 0;
    feed.fill(batch);
    const trades = tradesOf(batch).slice(0, TRADES - loaded);
    await raw.insert(trades, 0);
    loaded += trades.length;
  }
  const shards = await openShardedStore({
    config: config.shards,
    open: (name) => openStore({ kind: "sqlite", file: join(dir, `${name}.db`) }),
  });
  const recompute = new BatchRecompute({ config, raw, shards, logger });
  const recomputed = await recompute.runOnce();
  process.stderr.write(
    `cache bench: ${recomputed.windows} windows recomputed in ${Math.round(recomputed.durationMs)} ms\n`,
  );
  const symbols = feed.instruments.map((i) => i.symbol);

  const tableReads = new ShardedReads(shards);
  const rawReads: AnalyticsReads = {
    ...bind(tableReads),
    latest: (s, w) => new RawTradeReads(raw).latest(s, w),
  };
  const redis = await redisIfUp(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  const keyPrefix = `bwk:bench:${process.pid}:`;
  const service = (reads: AnalyticsReads, cache?: Cache) =>
    createQueryService({
      config,
      reads,
      ...(cache ? { cache } : {}),
      logger,
      registry: createMetricsRegistry(),
      http: { host: "127.0.0.1", port: 0 },
    }).service;
  const cacheOptions = { namespace: "bench", defaultTtlMs: 3_600_000, registry: createMetricsRegistry() };
  const cases = {
    raw: service(rawReads),
    tables: service(tableReads),
    cached: service(tableReads, memoryCache(cacheOptions)),
    ...(redis ? { redis: service(tableReads, redisCache({ ...cacheOptions, redis, keyPrefix })) } : {}),
  };
  type CaseName = keyof typeof cases;
  for (const s of Object.values(cases)) await s.app.ready();
  // Same answers from every case (the raw read recomputes what the tables hold), and a warm cache.
  for (const symbol of symbols) {
    const answers = await Promise.all(
      Object.values(cases).map(async (s) =>
        (await s.app.inject({ url: `/symbols/${symbol}/latest` })).json(),
      ),
    );
    const [a, ...others] = answers as Array<{ lastWindow: { start: number } | null; sma: number }>;
    if (
      others.some(
        (b) =>
          a?.lastWindow?.start !== b?.lastWindow?.start || Math.abs((a?.sma ?? 0) - (b?.sma ?? 0)) > 1e-9,
      )
    ) {
      throw new Error(`answers differ for ${symbol}: ${JSON.stringify(answers)}`);
    }
  }

  const names = Object.keys(cases) as CaseName[];
  const p95s = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<CaseName, number[]>;
  const p50s = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<CaseName, number[]>;
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of names) {
      const s = cases[name]!;
      const latencies: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        const url = `/symbols/${symbols[i % symbols.length]}/latest`;
        const t0 = performance.now();
        const res = await s.app.inject({ url });
        latencies.push(performance.now() - t0);
        if (res.statusCode !== 200) throw new Error(`${name}: ${res.statusCode} ${res.body}`);
      }
      p95s[name].push(percentile(latencies, 95));
      p50s[name].push(percentile(latencies, 50));
    }
  }
  const anchor = median(p95s.raw);
  for (const name of names.filter((n) => n !== "raw")) {
    report({
      bench: "cache",
      case: `latest-${name}`,
      metric: "p95 latency",
      value: median(p95s[name]) * 1000,
      unit: "µs",
      better: "lower",
      anchor: "latest-raw (computed from the raw trades table per request)",
      anchorValue: anchor * 1000,
    });
  }
  for (const name of names) {
    report({
      bench: "cache",
      case: `latest-${name}`,
      metric: "p50 latency",
      value: median(p50s[name]) * 1000,
      unit: "µs",
      better: "lower",
    });
  }
  report({
    bench: "cache",
    case: "latest-raw",
    metric: "p95 latency",
    value: anchor * 1000,
    unit: "µs",
    better: "lower",
  });
  for (const s of Object.values(cases)) await s.stop();
  if (redis) {
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  }
  for (const s of shards.shards) await s.close();
  await raw.store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

async function redisIfUp(url: string): Promise<Redis | undefined> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch {
    process.stderr.write(`cache bench: no Redis at ${url}; the redis case is skipped\n`);
    redis.disconnect();
    return undefined;
  }
}

function bind(reads: AnalyticsReads): AnalyticsReads {
  return {
    latest: (s, w) => reads.latest(s, w),
    windows: (s, q) => reads.windows(s, q),
    anomalies: (q) => reads.anomalies(q),
    topMovers: (q) => reads.topMovers(q),
    newestTrades: (s) => reads.newestTrades(s),
  };
}

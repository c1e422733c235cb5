import { sql } from "kysely";
import type { Logger } from "pino";
import { type Anomaly, IndicatorOperator, type Indicators } from "../../../platform/stream/index.ts";
import { type Clock, systemClock, type TimerHandle } from "../../../platform/time/index.ts";
import type { AnalyticsConfig } from "../config.ts";
import {
  type AnomaliesTable,
  emptyWrites,
  type ShardedStore,
  type ShardWrites,
  type WindowResultsTable,
} from "../store/index.ts";
import { RAW_TABLE, type RawTrades } from "./raw-trades.ts";

/** What one recompute made visible: the shape of the processor's window event, for the same freshness metrics. */
export interface RecomputeResult {
  symbols: string[];
  windowEnd: number;
  watermark: number;
  at: number;
  windows: number;
  /** Anomalies found in windows that had none recorded yet. */
  anomalies: number;
  durationMs: number;
}

interface AggregateRow {
  symbol: string;
  exchange: string;
  asset_class: string;
  window_start: number;
  count: number;
  volume: number;
  vwap: number;
  high: number;
  low: number;
  open: number;
  close: number;
}

export interface BatchRecomputeOptions {
  config: AnalyticsConfig;
  raw: RawTrades;
  shards: ShardedStore;
  clock?: Clock;
  logger: Logger;
  /** Called after each recompute that wrote windows (the query role records freshness; system.ts publishes). */
  onRecomputed?: (result: RecomputeResult) => void | Promise<void>;
}

/**
 * Batch mode's "before" architecture: every `batch.recomputeIntervalMs`, recompute every closed window of every
 * symbol from the raw trades table in SQL, and upsert the results into the same shard tables the stream
 * processor fills. A window is closed once the batch watermark (newest trade − outOfOrdernessMs) passes its end.
 * Late trades are never dropped here (the stream's allowedLatenessMs does not apply): a later recompute includes
 * them. Moving averages and anomalies come from the stream's own IndicatorOperator over each symbol's windows in
 * order, so both modes compute them by the same rules and thresholds. An anomaly is recorded once, the first time a
 * recompute finds it: the next recompute finds it again, and must not move its `at` (GET /anomalies?since).
 */
export class BatchRecompute {
  readonly #o: BatchRecomputeOptions;
  readonly #clock: Clock;
  #timer: TimerHandle | undefined;
  #running: Promise<RecomputeResult> | undefined;
  #stopped = true;

  constructor(options: BatchRecomputeOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    await this.#running?.catch(() => {});
  }

  /** One recompute now (the timer's, or a test's); concurrent calls share one run. */
  runOnce(): Promise<RecomputeResult> {
    this.#running ??= this.#recompute().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.runOnce()
        .catch((err: unknown) => this.#o.logger.error({ err }, "batch recompute failed"))
        .finally(() => this.#schedule());
    }, this.#o.config.batch.recomputeIntervalMs);
  }

  async #recompute(): Promise<RecomputeResult> {
    const { config, raw, shards } = this.#o;
    const started = this.#clock.monotonic();
    const w = config.windows.sizeMs;
    const db = raw.store.db;
    const newest = await db
      .selectFrom(RAW_TABLE)
      .select((eb) => eb.fn.max("ts").as("ts"))
      .executeTakeFirst();
    const empty = {
      symbols: [],
      windowEnd: 0,
      watermark: 0,
      at: this.#clock.now(),
      windows: 0,
      anomalies: 0,
      durationMs: 0,
    };
    if (newest?.ts == null) return empty;
    const watermark = Number(newest.ts) - config.windows.outOfOrdernessMs;
    const closedBefore = Math.floor(watermark / w) * w;
    const { rows } = await sql<AggregateRow>`
      with t as (
        select symbol, exchange, asset_class, price, size, ts, ts - (ts % ${w}) as ws,
          row_number() over (partition by symbol, ts - (ts % ${w}) order by ts, trade_id) as rf,
          row_number() over (partition by symbol, ts - (ts % ${w}) order by ts desc, trade_id desc) as rl
        from ${sql.table(RAW_TABLE)}
        where ts < ${closedBefore}
      )
      select symbol, min(exchange) as exchange, min(asset_class) as asset_class, ws as window_start,
        count(*) as count, sum(size) as volume, sum(price * size) / sum(size) as vwap,
        max(price) as high, min(price) as low,
        max(case when rf = 1 then price end) as open, max(case when rl = 1 then price end) as close
      from t
      group by symbol, ws
      order by symbol, ws`.execute(db);
    const now = this.#clock.now();
    const byShard = new Map<number, ShardWrites>();
    // Rows come ordered by symbol, then window: the operator sees each symbol's windows as the stream's does.
    let current: WindowResultsTable | undefined;
    let currentShard = 0;
    /** Per shard, the anomalies this recompute found (recorded or not yet). */
    const found = new Map<number, AnomaliesTable[]>();
    const indicators = new IndicatorOperator({
      period: config.windows.movingAverageWindows,
      zScoreThreshold: config.windows.zScoreThreshold,
      volumeSpikeFactor: config.windows.volumeSpikeFactor,
      onIndicators: (i: Indicators) => {
        current!.sma = i.sma;
        current!.ema = i.ema;
      },
      onAnomaly: (a: Anomaly) => {
        let list = found.get(currentShard);
        if (!list) {
          list = [];
          found.set(currentShard, list);
        }
        list.push({
          symbol: current!.symbol,
          window_ms: w,
          window_start: a.start,
          kind: a.kind,
          score: a.score,
          value: a.value,
          exchange: current!.exchange,
          asset_class: current!.asset_class,
          at: now,
        });
      },
    });
    const keys = new Map<string, number>();
    let maxEnd = 0;
    const symbols = new Set<string>();
    for (const r of rows) {
      const start = Number(r.window_start);
      const row: WindowResultsTable = {
        symbol: r.symbol,
        window_ms: w,
        window_start: start,
        window_end: start + w,
        exchange: r.exchange,
        asset_class: r.asset_class,
        count: Number(r.count),
        volume: Number(r.volume),
        vwap: Number(r.vwap),
        open: Number(r.open),
        high: Number(r.high),
        low: Number(r.low),
        close: Number(r.close),
        sma: 0,
        ema: 0,
        revision: 0,
        updated_at: now,
      };
      let key = keys.get(r.symbol);
      if (key === undefined) {
        key = keys.size;
        keys.set(r.symbol, key);
      }
      current = row;
      currentShard = shards.shardIndexOfListing({ exchange: r.exchange, assetClass: r.asset_class });
      indicators.process({ ...row, key, start, end: row.window_end });
      const writes = writesOf(byShard, currentShard);
      if (!symbols.has(r.symbol)) {
        writes.symbols.push({ symbol: r.symbol, exchange: r.exchange, asset_class: r.asset_class });
      }
      writes.windows.push(row);
      symbols.add(r.symbol);
      if (row.window_end > maxEnd) maxEnd = row.window_end;
    }
    let anomalies = 0;
    for (const [shard, list] of found) {
      const fresh = await this.#unrecorded(shard, list);
      writesOf(byShard, shard).anomalies.push(...fresh);
      anomalies += fresh.length;
    }
    await this.#latestTrades(byShard);
    await shards.writeAll(byShard);
    const result: RecomputeResult = {
      symbols: [...symbols],
      windowEnd: maxEnd,
      watermark,
      at: this.#clock.now(),
      windows: rows.length,
      anomalies,
      durationMs: this.#clock.monotonic() - started,
    };
    if (rows.length > 0) await this.#o.onRecomputed?.(result);
    return result;
  }

  /**
   * The anomalies among `found` (all of one shard) that no earlier recompute recorded. The shard is asked
   * only for the found symbols within the found windows' span, a range of the anomalies' primary key, so the
   * cost follows what this recompute found rather than every anomaly ever recorded.
   */
  async #unrecorded(shard: number, found: AnomaliesTable[]): Promise<AnomaliesTable[]> {
    const windowMs = this.#o.config.windows.sizeMs;
    const symbols = [...new Set(found.map((a) => a.symbol))];
    let from = Number.POSITIVE_INFINITY;
    let to = Number.NEGATIVE_INFINITY;
    for (const { window_start } of found) {
      if (window_start < from) from = window_start;
      if (window_start > to) to = window_start;
    }
    const recorded = new Set<string>();
    // Chunks keep the statement's parameters far below SQLite's and Postgres's limits.
    for (let i = 0; i < symbols.length; i += 500) {
      const rows = await this.#o.shards.shards[shard]!.db.selectFrom("anomalies")
        .select(["symbol", "window_start", "kind"])
        .where("symbol", "in", symbols.slice(i, i + 500))
        .where("window_ms", "=", windowMs)
        .where("window_start", ">=", from)
        .where("window_start", "<=", to)
        .execute();
      for (const r of rows) recorded.add(anomalyKey(r.symbol, Number(r.window_start), r.kind));
    }
    return found.filter((a) => !recorded.has(anomalyKey(a.symbol, a.window_start, a.kind)));
  }

  /** Each symbol's newest trade, for `latest`. */
  async #latestTrades(byShard: Map<number, ShardWrites>): Promise<void> {
    const { rows } = await sql<{
      symbol: string;
      exchange: string;
      asset_class: string;
      trade_id: number;
      price: number;
      size: number;
      ts: number;
    }>`
      select symbol, exchange, asset_class, trade_id, price, size, ts from (
        select *, row_number() over (partition by symbol order by ts desc, trade_id desc) as rn
        from ${sql.table(RAW_TABLE)}
      ) t where rn = 1`.execute(this.#o.raw.store.db);
    const now = this.#clock.now();
    for (const r of rows) {
      const listing = { exchange: r.exchange, assetClass: r.asset_class };
      const writes = writesOf(byShard, this.#o.shards.shardIndexOfListing(listing));
      writes.symbols.push({ symbol: r.symbol, exchange: r.exchange, asset_class: r.asset_class });
      writes.latest.push({
        symbol: r.symbol,
        exchange: r.exchange,
        asset_class: r.asset_class,
        trade_id: Number(r.trade_id),
        price: Number(r.price),
        size: Number(r.size),
        ts: Number(r.ts),
        updated_at: now,
      });
    }
  }
}

function anomalyKey(symbol: string, windowStart: number, kind: string): string {
  return `${symbol}\u0000${windowStart}\u0000${kind}`;
}

function writesOf(byShard: Map<number, ShardWrites>, shard: number): ShardWrites {
  const found = byShard.get(shard);
  if (found) return found;
  const writes = emptyWrites();
  byShard.set(shard, writes);
  return writes;
}

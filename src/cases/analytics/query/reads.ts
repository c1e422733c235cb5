import { sql } from "kysely";
import type { ShardedStore } from "../store/index.ts";

/** A closed window of one symbol as the API answers it. */
export interface WindowView {
  windowMs: number;
  start: number;
  end: number;
  count: number;
  volume: number;
  vwap: number;
  open: number;
  high: number;
  low: number;
  close: number;
  sma: number | null;
  ema: number | null;
  revision: number;
}

export interface LatestView {
  symbol: string;
  exchange: string;
  assetClass: string;
  lastTrade: { tradeId: number; price: number; size: number; ts: number } | null;
  lastWindow: WindowView | null;
  sma: number | null;
  ema: number | null;
}

export interface AnomalyView {
  symbol: string;
  exchange: string;
  assetClass: string;
  windowMs: number;
  windowStart: number;
  kind: string;
  score: number;
  value: number;
  at: number;
}

export interface MoverView {
  symbol: string;
  exchange: string;
  assetClass: string;
  open: number;
  close: number;
  /** (close − open) / open, in percent. */
  changePct: number;
  volume: number;
}

export interface TopMoversView {
  windowMs: number;
  /** The latest closed window of this size on any shard; null before any. */
  window: { start: number; end: number } | null;
  movers: MoverView[];
}

/** What the query API reads; the streaming tables and the batch recompute fill the same tables. */
export interface AnalyticsReads {
  latest(symbol: string, windowMs: number): Promise<LatestView | undefined>;
  windows(
    symbol: string,
    q: { windowMs: number; from: number; to: number; limit: number },
  ): Promise<WindowView[] | undefined>;
  anomalies(q: { since: number; limit: number }): Promise<AnomalyView[]>;
  topMovers(q: { windowMs: number; limit: number }): Promise<TopMoversView>;
  /** The event time of each symbol's newest stored trade (symbols never seen are left out). */
  newestTrades(symbols: readonly string[]): Promise<Map<string, number>>;
}

const WINDOW_COLUMNS = [
  "window_ms",
  "window_start",
  "window_end",
  "count",
  "volume",
  "vwap",
  "open",
  "high",
  "low",
  "close",
  "sma",
  "ema",
  "revision",
] as const;

type WindowRow = {
  window_ms: number;
  window_start: number;
  window_end: number;
  count: number;
  volume: number;
  vwap: number;
  open: number;
  high: number;
  low: number;
  close: number;
  sma: number | null;
  ema: number | null;
  revision: number;
};

function windowView(r: WindowRow): WindowView {
  return {
    windowMs: Number(r.window_ms),
    start: Number(r.window_start),
    end: Number(r.window_end),
    count: Number(r.count),
    volume: r.volume,
    vwap: r.vwap,
    open: r.open,
    high: r.high,
    low: r.low,
    close: r.close,
    sma: r.sma,
    ema: r.ema,
    revision: Number(r.revision),
  };
}

/**
 * Reads over the sharded store. A symbol's reads go to its one shard; anomalies and top movers fan out to every
 * shard at once and merge, each shard already sorted and cut to `limit`, so the merge handles at most
 * shards × limit rows.
 */
export class ShardedReads implements AnalyticsReads {
  readonly #store: ShardedStore;

  constructor(store: ShardedStore) {
    this.#store = store;
  }

  async latest(symbol: string, windowMs: number): Promise<LatestView | undefined> {
    const shard = await this.#store.shardOfSymbol(symbol);
    if (!shard) return undefined;
    const [listing, trade, window] = await Promise.all([
      shard.db
        .selectFrom("symbols")
        .select(["exchange", "asset_class"])
        .where("symbol", "=", symbol)
        .executeTakeFirst(),
      shard.db
        .selectFrom("latest_trades")
        .select(["trade_id", "price", "size", "ts"])
        .where("symbol", "=", symbol)
        .executeTakeFirst(),
      shard.db
        .selectFrom("window_results")
        .select(WINDOW_COLUMNS)
        .where("symbol", "=", symbol)
        .where("window_ms", "=", windowMs)
        .orderBy("window_start", "desc")
        .limit(1)
        .executeTakeFirst(),
    ]);
    if (!listing) return undefined;
    const lastWindow = window ? windowView(window) : null;
    return {
      symbol,
      exchange: listing.exchange,
      assetClass: listing.asset_class,
      lastTrade: trade
        ? { tradeId: Number(trade.trade_id), price: trade.price, size: trade.size, ts: Number(trade.ts) }
        : null,
      lastWindow,
      sma: lastWindow?.sma ?? null,
      ema: lastWindow?.ema ?? null,
    };
  }

  async windows(
    symbol: string,
    q: { windowMs: number; from: number; to: number; limit: number },
  ): Promise<WindowView[] | undefined> {
    const shard = await this.#store.shardOfSymbol(symbol);
    if (!shard) return undefined;
    const rows = await shard.db
      .selectFrom("window_results")
      .select(WINDOW_COLUMNS)
      .where("symbol", "=", symbol)
      .where("window_ms", "=", q.windowMs)
      .where("window_start", ">=", q.from)
      .where("window_end", "<=", q.to)
      .orderBy("window_start", "asc")
      .limit(q.limit)
      .execute();
    return rows.map(windowView);
  }

  async anomalies(q: { since: number; limit: number }): Promise<AnomalyView[]> {
    const perShard = await Promise.all(
      this.#store.shards.map((s) =>
        s.db
          .selectFrom("anomalies")
          .selectAll()
          .where("at", ">=", q.since)
          .orderBy("at", "desc")
          .orderBy("symbol", "asc")
          .limit(q.limit)
          .execute(),
      ),
    );
    return perShard
      .flat()
      .map((r) => ({
        symbol: r.symbol,
        exchange: r.exchange,
        assetClass: r.asset_class,
        windowMs: Number(r.window_ms),
        windowStart: Number(r.window_start),
        kind: r.kind,
        score: r.score,
        value: r.value,
        at: Number(r.at),
      }))
      .sort((a, b) => b.at - a.at || a.symbol.localeCompare(b.symbol) || a.kind.localeCompare(b.kind))
      .slice(0, q.limit);
  }

  async newestTrades(symbols: readonly string[]): Promise<Map<string, number>> {
    const byShard = new Map<number, string[]>();
    for (const symbol of symbols) {
      const shard = await this.#store.shardIndexOfSymbol(symbol);
      if (shard === undefined) continue;
      const list = byShard.get(shard);
      if (list) list.push(symbol);
      else byShard.set(shard, [symbol]);
    }
    const found = await Promise.all(
      [...byShard].map(([shard, list]) =>
        this.#store.shards[shard]!.db.selectFrom("latest_trades")
          .select(["symbol", "ts"])
          .where("symbol", "in", list)
          .execute(),
      ),
    );
    return new Map(found.flat().map((r) => [r.symbol, Number(r.ts)]));
  }

  async topMovers(q: { windowMs: number; limit: number }): Promise<TopMoversView> {
    // Windows are aligned to the epoch, so every symbol shares the boundaries: first find the latest closed
    // window on any shard, then ask every shard for its biggest movers in exactly that window.
    const ends = await Promise.all(
      this.#store.shards.map((s) =>
        s.db
          .selectFrom("window_results")
          .select((eb) => eb.fn.max("window_end").as("end"))
          .where("window_ms", "=", q.windowMs)
          .executeTakeFirst(),
      ),
    );
    const end = Math.max(...ends.map((r) => (r?.end == null ? Number.NEGATIVE_INFINITY : Number(r.end))));
    if (!Number.isFinite(end)) return { windowMs: q.windowMs, window: null, movers: [] };
    const change = sql<number>`abs(("close" - "open") / "open")`;
    const perShard = await Promise.all(
      this.#store.shards.map((s) =>
        s.db
          .selectFrom("window_results")
          .select(["symbol", "exchange", "asset_class", "open", "close", "volume", "window_start"])
          .where("window_ms", "=", q.windowMs)
          .where("window_end", "=", end)
          .where("open", ">", 0)
          .orderBy(change, "desc")
          .orderBy("symbol", "asc")
          .limit(q.limit)
          .execute(),
      ),
    );
    const rows = perShard.flat();
    const movers = rows
      .map((r) => ({
        symbol: r.symbol,
        exchange: r.exchange,
        assetClass: r.asset_class,
        open: r.open,
        close: r.close,
        changePct: ((r.close - r.open) / r.open) * 100,
        volume: r.volume,
      }))
      .sort((a, b) => Math.abs(b.changePct) - Math.abs(a.changePct) || a.symbol.localeCompare(b.symbol))
      .slice(0, q.limit);
    const start = rows[0] ? Number(rows[0].window_start) : end - q.windowMs;
    return { windowMs: q.windowMs, window: { start, end }, movers };
  }
}

import type { Migration } from "../../../platform/storage/index.ts";

/** One closed window of one symbol, upserted by (symbol, window_ms, window_start): a replay rewrites the same row. */
export interface WindowResultsTable {
  symbol: string;
  window_ms: number;
  window_start: number;
  window_end: number;
  exchange: string;
  asset_class: string;
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
  updated_at: number;
}

export interface LatestTradesTable {
  symbol: string;
  exchange: string;
  asset_class: string;
  trade_id: number;
  price: number;
  size: number;
  ts: number;
  updated_at: number;
}

export interface AnomaliesTable {
  symbol: string;
  window_ms: number;
  window_start: number;
  kind: string;
  score: number;
  value: number;
  exchange: string;
  asset_class: string;
  at: number;
}

export interface SymbolsTable {
  symbol: string;
  exchange: string;
  asset_class: string;
}

/** The tables of one shard. */
export interface ShardDb {
  window_results: WindowResultsTable;
  latest_trades: LatestTradesTable;
  anomalies: AnomaliesTable;
  symbols: SymbolsTable;
}

export const SHARD_NAMESPACE = "analytics";

export const shardMigrations: Migration[] = [
  {
    id: "001_shard",
    async up(db) {
      await db.schema
        .createTable("window_results")
        .addColumn("symbol", "varchar(32)", (c) => c.notNull())
        .addColumn("window_ms", "integer", (c) => c.notNull())
        .addColumn("window_start", "bigint", (c) => c.notNull())
        .addColumn("window_end", "bigint", (c) => c.notNull())
        .addColumn("exchange", "varchar(32)", (c) => c.notNull())
        .addColumn("asset_class", "varchar(16)", (c) => c.notNull())
        .addColumn("count", "bigint", (c) => c.notNull())
        .addColumn("volume", "double precision", (c) => c.notNull())
        .addColumn("vwap", "double precision", (c) => c.notNull())
        .addColumn("open", "double precision", (c) => c.notNull())
        .addColumn("high", "double precision", (c) => c.notNull())
        .addColumn("low", "double precision", (c) => c.notNull())
        .addColumn("close", "double precision", (c) => c.notNull())
        .addColumn("sma", "double precision")
        .addColumn("ema", "double precision")
        .addColumn("revision", "integer", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("window_results_pk", ["symbol", "window_ms", "window_start"])
        .execute();
      // Top movers and time-range reads scan by window, across symbols.
      await db.schema
        .createIndex("window_results_by_end")
        .on("window_results")
        .columns(["window_ms", "window_end"])
        .execute();
      await db.schema
        .createTable("latest_trades")
        .addColumn("symbol", "varchar(32)", (c) => c.primaryKey())
        .addColumn("exchange", "varchar(32)", (c) => c.notNull())
        .addColumn("asset_class", "varchar(16)", (c) => c.notNull())
        .addColumn("trade_id", "bigint", (c) => c.notNull())
        .addColumn("price", "double precision", (c) => c.notNull())
        .addColumn("size", "double precision", (c) => c.notNull())
        .addColumn("ts", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("anomalies")
        .addColumn("symbol", "varchar(32)", (c) => c.notNull())
        .addColumn("window_ms", "integer", (c) => c.notNull())
        .addColumn("window_start", "bigint", (c) => c.notNull())
        .addColumn("kind", "varchar(32)", (c) => c.notNull())
        .addColumn("score", "double precision", (c) => c.notNull())
        .addColumn("value", "double precision", (c) => c.notNull())
        .addColumn("exchange", "varchar(32)", (c) => c.notNull())
        .addColumn("asset_class", "varchar(16)", (c) => c.notNull())
        .addColumn("at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("anomalies_pk", ["symbol", "window_ms", "window_start", "kind"])
        .execute();
      await db.schema.createIndex("anomalies_by_at").on("anomalies").column("at").execute();
      await db.schema
        .createTable("symbols")
        .addColumn("symbol", "varchar(32)", (c) => c.primaryKey())
        .addColumn("exchange", "varchar(32)", (c) => c.notNull())
        .addColumn("asset_class", "varchar(16)", (c) => c.notNull())
        .execute();
    },
  },
];

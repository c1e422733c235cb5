import { sql } from "kysely";
import type { ShardedStore } from "../store/index.ts";

/** One symbol's day, from its closed windows. */
export interface DailySymbolReport {
  symbol: string;
  exchange: string;
  assetClass: string;
  open: number;
  high: number;
  low: number;
  close: number;
  vwap: number;
  volume: number;
  count: number;
}

export interface DailyReport {
  date: string;
  windowMs: number;
  symbols: DailySymbolReport[];
}

const DAY_MS = 86_400_000;

/** The UTC day `YYYY-MM-DD` as [start, end) epoch ms; undefined when it is not a real date. */
export function dayRange(date: string): { start: number; end: number } | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return undefined;
  const start = Date.parse(`${date}T00:00:00Z`);
  if (Number.isNaN(start) || new Date(start).toISOString().slice(0, 10) !== date) return undefined;
  return { start, end: start + DAY_MS };
}

/**
 * The end-of-day report of every symbol traded on a UTC day: open (first window's), high, low, close (last
 * window's), volume-weighted average price, volume and trade count, aggregated in SQL on each shard (its
 * windows never leave the database), shards one after the other so progress can be told.
 */
export async function dailyReport(options: {
  shards: ShardedStore;
  date: string;
  windowMs: number;
  onProgress?: (done: number, total: number, symbols: number) => void;
}): Promise<DailyReport> {
  const range = dayRange(options.date);
  if (!range) throw new RangeError(`not a date (YYYY-MM-DD): ${options.date}`);
  const all: DailySymbolReport[] = [];
  const { shards } = options.shards;
  for (const [i, shard] of shards.entries()) {
    const { rows } = await sql<{
      symbol: string;
      exchange: string;
      asset_class: string;
      open: number;
      high: number;
      low: number;
      close: number;
      vwap: number;
      volume: number;
      count: number;
    }>`
      with t as (
        select symbol, exchange, asset_class, open, high, low, close, vwap, volume, count,
          row_number() over (partition by symbol order by window_start) as rf,
          row_number() over (partition by symbol order by window_start desc) as rl
        from window_results
        where window_ms = ${options.windowMs} and window_start >= ${range.start} and window_start < ${range.end}
      )
      select symbol, min(exchange) as exchange, min(asset_class) as asset_class,
        max(case when rf = 1 then open end) as open, max(high) as high, min(low) as low,
        max(case when rl = 1 then close end) as close,
        sum(vwap * volume) / sum(volume) as vwap, sum(volume) as volume, sum(count) as count
      from t
      group by symbol
      order by symbol`.execute(shard.db);
    for (const r of rows) {
      all.push({
        symbol: r.symbol,
        exchange: r.exchange,
        assetClass: r.asset_class,
        open: Number(r.open),
        high: Number(r.high),
        low: Number(r.low),
        close: Number(r.close),
        vwap: Number(r.vwap),
        volume: Number(r.volume),
        count: Number(r.count),
      });
    }
    options.onProgress?.(i + 1, shards.length, rows.length);
  }
  all.sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
  return { date: options.date, windowMs: options.windowMs, symbols: all };
}

const CSV_COLUMNS = [
  "symbol",
  "exchange",
  "assetClass",
  "open",
  "high",
  "low",
  "close",
  "vwap",
  "volume",
  "count",
] as const;

function csvField(value: string | number): string {
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV: a header line, then one line per symbol. */
export function reportCsv(report: DailyReport): string {
  const lines = [CSV_COLUMNS.join(",")];
  for (const s of report.symbols) lines.push(CSV_COLUMNS.map((c) => csvField(s[c])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

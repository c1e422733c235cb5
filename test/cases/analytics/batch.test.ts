import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BATCH_LOADER_GROUP,
  type BatchMode,
  backfill,
  createBatchMode,
  dailyReport,
  parseFrom,
  RAW_TABLE,
  reportCsv,
} from "../../../src/cases/analytics/batch/index.ts";
import { TOPICS } from "../../../src/cases/analytics/events.ts";
import { batchOf, type Trade } from "../../../src/cases/analytics/feed/index.ts";
import { TradePublisher } from "../../../src/cases/analytics/ingest/index.ts";
import { createQueryService, ShardedReads } from "../../../src/cases/analytics/query/index.ts";
import { openShardedStore, type ShardedStore } from "../../../src/cases/analytics/store/index.ts";
import { declareAnalyticsTopics } from "../../../src/cases/analytics/system.ts";
import type { Bus } from "../../../src/platform/messaging/index.ts";
import { createMetricsRegistry } from "../../../src/platform/observability/index.ts";
import type { Store } from "../../../src/platform/storage/index.ts";
import { systemClock } from "../../../src/platform/time/index.ts";
import { busFor } from "../../support/buses.ts";
import { eventually } from "../../support/services.ts";
import { type StoreTarget, storeTargets } from "../../support/stores.ts";
import { analyticsConfig, logger } from "./query-harness.ts";

const targets = await storeTargets();
const DAY = Date.parse("2026-01-02T00:00:00Z");

function trade(
  tradeId: number,
  symbol: string,
  exchange: string,
  offsetMs: number,
  price: number,
  size = 1,
): Trade {
  return { tradeId, symbol, exchange, assetClass: "equity", price, size, ts: DAY + offsetMs };
}

/** Two windows of AAPL (XNAS, shard 0) and one of VOD (XLON, shard 1); the last trade only moves the watermark. */
const TRADES: Trade[] = [
  trade(1, "AAPL", "XNAS", 100, 10, 1),
  trade(2, "AAPL", "XNAS", 500, 12, 3),
  trade(3, "AAPL", "XNAS", 900, 11, 1),
  trade(4, "AAPL", "XNAS", 1_200, 11, 2),
  trade(5, "AAPL", "XNAS", 1_800, 14, 2),
  trade(6, "VOD", "XLON", 300, 70, 5),
  trade(7, "VOD", "XLON", 700, 71, 5),
  trade(8, "VOD", "XLON", 3_000, 72, 1),
];

describe.each(targets)("analytics batch mode on $name", (target: StoreTarget) => {
  const config = analyticsConfig({ mode: "batch", windows: { sizeMs: 1_000, outOfOrdernessMs: 500 } });
  let main: Store;
  let bus: Bus;
  let shards: ShardedStore;
  let batch: BatchMode;
  let publisher: TradePublisher;
  const registry = createMetricsRegistry();

  beforeAll(async () => {
    main = await target.open();
    ({ bus } = await busFor(main));
    await declareAnalyticsTopics(bus, config);
    const opened: Store[] = [];
    const open = async () => {
      const s = await target.open();
      opened.push(s);
      return s;
    };
    shards = await openShardedStore({ config: config.shards, open });
    batch = await createBatchMode({ config, bus, shards, openAuxStore: open, clock: systemClock, logger });
    publisher = new TradePublisher({ bus, partitions: config.partitions });
  }, 30_000);

  afterAll(async () => {
    await batch?.stop();
    await bus?.close();
    for (const s of shards?.shards ?? []) await s.close();
    await batch?.raw.store.close();
    await main?.close();
    await target.cleanup();
  });

  it("loads every trade frame into the raw table, once, and the recompute fills the shard tables", async () => {
    batch.loader.start();
    await publisher.publish(batchOf(TRADES));
    await publisher.publish(batchOf(TRADES.slice(0, 3))); // a re-sent frame adds nothing
    await eventually(
      async () => (await bus.lag(TOPICS.trades, BATCH_LOADER_GROUP)) === 0 && batch.loader.loaded === 11,
      {
        message: "the loader to catch up",
      },
    );
    expect(await batch.raw.count()).toBe(TRADES.length);

    const result = await batch.recompute.runOnce();
    // Watermark = 3,000 − 500: windows [0,1s) and [1s,2s) are closed, [2s,3s) is not (and has no trade anyway).
    expect(result.windowEnd).toBe(DAY + 2_000);
    expect(result.symbols.sort()).toEqual(["AAPL", "VOD"]);
    const aapl = await shards.shards[0]!.db.selectFrom("window_results")
      .selectAll()
      .where("symbol", "=", "AAPL")
      .orderBy("window_start")
      .execute();
    expect(
      aapl.map((w) => [Number(w.window_start) - DAY, w.open, w.high, w.low, w.close, Number(w.count)]),
    ).toEqual([
      [0, 10, 12, 10, 11, 3],
      [1_000, 11, 14, 11, 14, 2],
    ]);
    expect(aapl[0]!.vwap).toBeCloseTo((10 + 36 + 11) / 5);
    expect(aapl[0]!.volume).toBe(5);
    // SMA/EMA over the VWAPs so far (period 20, α = 2/21), seeded with the first, as the stream's operator does.
    const vwaps = [(10 + 36 + 11) / 5, (22 + 28) / 4];
    expect(aapl[1]!.sma).toBeCloseTo((vwaps[0]! + vwaps[1]!) / 2);
    expect(aapl[1]!.ema).toBeCloseTo(vwaps[0]! + (2 / 21) * (vwaps[1]! - vwaps[0]!));
    const vod = await shards.shards[1]!.db.selectFrom("window_results").selectAll().execute();
    expect(vod.map((w) => [w.symbol, w.open, w.close])).toEqual([["VOD", 70, 71]]);
    // Running it again rewrites the same rows.
    await batch.recompute.runOnce();
    expect(await shards.shards[0]!.db.selectFrom("window_results").selectAll().execute()).toHaveLength(2);
  });

  it("the query API answers from the recomputed tables, with no cache", async () => {
    const query = createQueryService({
      config,
      reads: new ShardedReads(shards),
      logger,
      registry,
      http: { host: "127.0.0.1", port: 0 },
    });
    const res = await query.service.app.inject({ method: "GET", url: "/symbols/AAPL/latest" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      lastTrade: { tradeId: 5, price: 14 },
      lastWindow: { start: DAY + 1_000, close: 14 },
    });
    const top = await query.service.app.inject({ method: "GET", url: "/top-movers?limit=5" });
    expect(top.json().movers.map((m: { symbol: string }) => m.symbol)).toEqual(["AAPL"]);
    await query.service.stop();
    expect(await registry.getSingleMetric("cache_requests_total")).toBeUndefined();
  });

  it("the end-of-day report aggregates each symbol's windows across shards, as JSON or CSV", async () => {
    const progress: string[] = [];
    const report = await dailyReport({
      shards,
      date: "2026-01-02",
      windowMs: 1_000,
      onProgress: (done, total) => progress.push(`${done}/${total}`),
    });
    expect(progress).toEqual(["1/2", "2/2"]);
    expect(report.symbols).toEqual([
      {
        symbol: "AAPL",
        exchange: "XNAS",
        assetClass: "equity",
        open: 10,
        high: 14,
        low: 10,
        close: 14,
        vwap: expect.closeTo((10 + 36 + 11 + 22 + 28) / 9, 9),
        volume: 9,
        count: 5,
      },
      expect.objectContaining({ symbol: "VOD", open: 70, close: 71, volume: 10, count: 2 }),
    ]);
    const csv = reportCsv(report).split("\r\n");
    expect(csv[0]).toBe("symbol,exchange,assetClass,open,high,low,close,vwap,volume,count");
    expect(csv[2]).toBe("VOD,XLON,equity,70,71,70,71,70.5,10,2");
    expect((await dailyReport({ shards, date: "2026-01-03", windowMs: 1_000 })).symbols).toEqual([]);
  });

  it("backfill replays the log into a fresh table and swaps it in", async () => {
    // Lose some raw rows: the backfill must bring every trade back from the log.
    await batch.raw.store.db.deleteFrom(RAW_TABLE).where("symbol", "=", "AAPL").execute();
    expect(await batch.raw.count()).toBe(3);
    const seen: number[] = [];
    const result = await backfill({
      bus,
      raw: batch.raw,
      from: { earliest: true },
      logger,
      progressEveryMs: 20,
      onProgress: (p) => seen.push(p.lag),
    });
    expect(result.rows).toBe(TRADES.length);
    expect(result.loaded).toBe(11);
    expect(seen.at(-1)).toBe(0);
    expect(await batch.raw.count()).toBe(TRADES.length);
    // The fresh table took the live name; the old one is gone.
    await expect(
      batch.raw.store.db
        .selectFrom(result.table as never)
        .selectAll()
        .execute(),
    ).rejects.toThrow();
    // Live loading goes on into the swapped-in table.
    await publisher.publish(batchOf([trade(9, "AAPL", "XNAS", 4_000, 15)]));
    await eventually(async () => (await batch.raw.count()) === TRADES.length + 1, {
      message: "the live loader",
    });
  });

  it("finds anomalies with the stream's rules, and records each once, however often it recomputes", async () => {
    // Six one-second windows of SPKE at a steady price; the sixth trades ten times the volume of the others.
    const spike = Array.from({ length: 6 }, (_, i) =>
      trade(100 + i, "SPKE", "XNAS", 10_000 + i * 1_000, 50, i === 5 ? 10 : 1),
    );
    const before = await batch.raw.count();
    await publisher.publish(batchOf([...spike, trade(200, "SPKE", "XNAS", 17_000, 50)]));
    await eventually(async () => (await batch.raw.count()) === before + 7, { message: "the SPKE trades" });
    const first = await batch.recompute.runOnce();
    expect(first.anomalies).toBe(1);
    const read = () =>
      shards.shards[0]!.db.selectFrom("anomalies").selectAll().where("symbol", "=", "SPKE").execute();
    const [anomaly] = await read();
    expect(anomaly).toMatchObject({ kind: "volume-spike", window_start: DAY + 15_000, value: 50 });
    // Volume 10 against a baseline of 1 (config volumeSpikeFactor 5).
    expect(anomaly!.score).toBeCloseTo(10);
    const again = await batch.recompute.runOnce();
    expect(again.anomalies).toBe(0);
    expect(await read()).toEqual([anomaly]);
  });

  it("parses --from as an offset, a time or earliest", () => {
    expect(parseFrom("42")).toEqual({ offset: 42 });
    expect(parseFrom("earliest")).toEqual({ earliest: true });
    expect(parseFrom("2026-01-02T00:00:00Z")).toEqual({ time: DAY });
    expect(parseFrom(`time:${DAY}`)).toEqual({ time: DAY });
    expect(parseFrom("yesterday")).toBeUndefined();
    expect(parseFrom("2026-13-45")).toBeUndefined();
  });
});

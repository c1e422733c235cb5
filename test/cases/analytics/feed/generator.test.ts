import { describe, expect, it } from "vitest";
import {
  FeedGenerator,
  type FeedOptions,
  isFeedError,
  tradesOf,
} from "../../../../src/cases/analytics/feed/index.ts";

const options: FeedOptions = { seed: 7, symbols: 200, rate: 20_000 };

function draw(o: FeedOptions, sizes: number[]) {
  const feed = new FeedGenerator(o);
  return sizes.flatMap((n) => tradesOf(feed.next(n)));
}

describe("FeedGenerator", () => {
  it("is deterministic: the same seed gives the same trades whatever the batch sizes", () => {
    const a = draw(options, [5_000, 5_000]);
    const b = draw(options, [1, 999, 3_333, 5_667]);
    expect(b).toEqual(a);
    expect(draw({ ...options, seed: 8 }, [10_000])).not.toEqual(a);
  });

  it("produces well-formed trades with instruments of every asset class", () => {
    const feed = new FeedGenerator({ ...options, symbols: 500 });
    const trades = tradesOf(feed.next(20_000));
    const classes = new Set(feed.instruments.map((i) => i.assetClass));
    expect([...classes].sort()).toEqual(["crypto", "equity", "etf", "fx"]);
    expect(new Set(feed.instruments.map((i) => i.symbol)).size).toBe(500);
    const bySymbol = new Map(feed.instruments.map((i) => [i.symbol, i]));
    const malformed = trades.filter((t) => {
      const instrument = bySymbol.get(t.symbol);
      return !(
        t.price > 0 &&
        Number.isInteger(t.size) &&
        t.size >= 1 &&
        Number.isSafeInteger(t.tradeId) &&
        Number.isInteger(t.ts) &&
        instrument?.exchange === t.exchange &&
        instrument.assetClass === t.assetClass
      );
    });
    expect(malformed).toEqual([]);
  });

  it("draws symbol popularity from a Zipf law: rank 0 trades about twice as often as rank 1", () => {
    const feed = new FeedGenerator({
      ...options,
      zipfExponent: 1,
      bursts: { perMinute: 0 },
      disorder: { duplicateRate: 0 },
    });
    const batch = feed.next(100_000);
    const counts = new Map<number, number>();
    for (let i = 0; i < batch.length; i++)
      counts.set(batch.instrument[i]!, (counts.get(batch.instrument[i]!) ?? 0) + 1);
    const ratio = counts.get(0)! / counts.get(1)!;
    expect(ratio).toBeGreaterThan(1.8);
    expect(ratio).toBeLessThan(2.2);
    expect(counts.get(0)! / 100_000).toBeCloseTo(1 / 5.878, 1); // H(200) ≈ 5.878
  });

  it("keeps ordinary disorder within its bound, and injects late trades and exact duplicates", () => {
    const feed = new FeedGenerator({
      ...options,
      disorder: {
        outOfOrderRate: 0.1,
        maxOutOfOrderMs: 300,
        lateRate: 0.01,
        lateDelayMs: [5_000, 6_000],
        duplicateRate: 0.02,
      },
    });
    const trades = tradesOf(feed.next(50_000));
    let maxSeen = Number.NEGATIVE_INFINITY;
    let late = 0;
    let behind = 0;
    const ids = new Set<number>();
    for (const t of trades) {
      // A duplicate repeats its original's ts, so only first reports count against the bound.
      if (ids.has(t.tradeId)) continue;
      ids.add(t.tradeId);
      const lag = maxSeen - t.ts;
      if (lag > 1_000) late++;
      else if (lag > 0) {
        behind++;
        expect(lag).toBeLessThanOrEqual(301);
      }
      maxSeen = Math.max(maxSeen, t.ts);
    }
    expect(late / trades.length).toBeGreaterThan(0.005);
    expect(behind / trades.length).toBeGreaterThan(0.05);
    const byId = new Map<number, (typeof trades)[number]>();
    let duplicates = 0;
    for (const t of trades) {
      const first = byId.get(t.tradeId);
      if (first) {
        duplicates++;
        expect(t).toEqual(first);
      } else byId.set(t.tradeId, t);
    }
    expect(duplicates).toBe(feed.stats.duplicates);
    expect(duplicates / trades.length).toBeGreaterThan(0.01);
  });

  it("arrives at the configured mean rate, bursts included, and bursts spike one symbol's volume", () => {
    const rate = 1_000;
    const feed = new FeedGenerator({
      ...options,
      rate,
      bursts: { perMinute: 6, durationMs: 2_000, intensity: 5 },
    });
    const batch = feed.createBatch(2 * rate * 600);
    feed.fill(batch, feed.startTs + 600_000);
    expect(feed.nextArrival).toBeGreaterThan(feed.startTs + 600_000);
    expect(batch.length / 600).toBeGreaterThan(rate * 0.85);
    expect(batch.length / 600).toBeLessThan(rate * 1.15);
    expect(feed.stats.bursts).toBeGreaterThan(30);
    // Trades per (symbol, 5 s): a burst gives one symbol far more than even the most popular one has.
    const counts = new Map<string, number>();
    for (let i = 0; i < batch.length; i++) {
      const id = `${batch.instrument[i]}:${Math.floor(batch.ts[i]! / 5_000)}`;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const top = [...counts].filter(([id]) => id.startsWith("0:")).map(([, n]) => n);
    const topMean = top.reduce((a, b) => a + b) / top.length;
    expect(Math.max(...counts.values())).toBeGreaterThan(2.5 * topMean);
  });

  it("rejects invalid options with a coded error", () => {
    for (const bad of [{ rate: 0 }, { symbols: 0 }, { seed: 1.5 }, { disorder: { lateRate: 2 } }]) {
      let error: unknown;
      try {
        new FeedGenerator({ ...options, ...bad });
      } catch (e) {
        error = e;
      }
      expect(isFeedError(error) && error.code).toBe("BWK_ERR_FEED_INVALID_OPTION");
    }
  });
});

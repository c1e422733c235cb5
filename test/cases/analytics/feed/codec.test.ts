import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ASSET_CLASSES,
  batchOf,
  decodeTrades,
  encodeTrades,
  FeedGenerator,
  isFeedError,
  type Trade,
  tradesOf,
} from "../../../../src/cases/analytics/feed/index.ts";
import { partitionOf, planPartitions } from "../../../../src/platform/stream/index.ts";

const instrument = fc.record({
  symbol: fc.string({ minLength: 1, maxLength: 12 }),
  exchange: fc.constantFrom("XNYS", "XNAS", "CBSE", "Börse"),
  assetClass: fc.constantFrom(...ASSET_CLASSES),
});

const trades = fc.array(instrument, { minLength: 1, maxLength: 5 }).chain((instruments) =>
  fc
    .array(
      fc.record({
        which: fc.nat({ max: instruments.length - 1 }),
        tradeId: fc.oneof(fc.integer({ min: 0, max: 1_000_000 }), fc.maxSafeInteger()),
        price: fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
        size: fc.oneof(
          fc.integer({ min: 1, max: 10_000 }),
          fc.double({ min: 0.0001, max: 1e4, noNaN: true }),
        ),
        ts: fc.oneof(fc.integer({ min: 1.7e12, max: 1.8e12 }), fc.double({ min: 0, max: 2e12, noNaN: true })),
      }),
      { maxLength: 200 },
    )
    .map((rows) => {
      // One instrument per symbol, as a universe has.
      const bySymbol = new Map(instruments.map((i) => [i.symbol, i]));
      return rows.map(({ which, ...t }): Trade => ({ ...t, ...bySymbol.get(instruments[which]!.symbol)! }));
    }),
);

describe("trade codec", () => {
  it("round-trips any batch exactly", () => {
    fc.assert(
      fc.property(trades, (list) => {
        expect(tradesOf(decodeTrades(encodeTrades(batchOf(list))))).toEqual(list);
      }),
    );
  });

  it("encodes a partition's slice straight from a split plan, with only the instruments it uses", () => {
    const feed = new FeedGenerator({ seed: 3, symbols: 300, rate: 10_000 });
    const batch = feed.next(5_000);
    const partitionOfKey = Int32Array.from(feed.instruments, (i) => partitionOf(i.symbol, 4));
    const { order, offsets } = planPartitions(batch.instrument, batch.length, partitionOfKey, 4);
    const all = tradesOf(batch);
    for (let p = 0; p < 4; p++) {
      const decoded = decodeTrades(encodeTrades(batch, order, offsets[p]!, offsets[p + 1]!));
      expect(tradesOf(decoded)).toEqual([...order.subarray(offsets[p]!, offsets[p + 1]!)].map((i) => all[i]));
      expect(decoded.instruments.every((i) => partitionOf(i.symbol, 4) === p)).toBe(true);
    }
  });

  it("is compact: under 26 bytes a trade for a 4,096-trade frame, a quarter of JSON", () => {
    const batch = new FeedGenerator({ seed: 1, symbols: 1_000, rate: 100_000 }).next(4_096);
    const frame = encodeTrades(batch);
    expect(frame.length / 4_096).toBeLessThan(26);
    expect(frame.length * 4).toBeLessThan(Buffer.byteLength(JSON.stringify(tradesOf(batch))));
  });

  it("decodes a frame at an unaligned offset inside a larger buffer", () => {
    const batch = new FeedGenerator({ seed: 2, symbols: 10, rate: 1_000 }).next(100);
    const frame = encodeTrades(batch);
    const carrier = new Uint8Array(frame.length + 3);
    carrier.set(frame, 3);
    expect(tradesOf(decodeTrades(carrier.subarray(3)))).toEqual(tradesOf(batch));
  });

  it("rejects malformed frames with BWK_ERR_FEED_BAD_FRAME", () => {
    const frame = encodeTrades(new FeedGenerator({ seed: 2, symbols: 10, rate: 1_000 }).next(100));
    const corrupt = (mutate: (f: Uint8Array) => Uint8Array) => {
      try {
        decodeTrades(mutate(frame.slice()));
        return undefined;
      } catch (e) {
        return isFeedError(e) ? e.code : e;
      }
    };
    expect(corrupt((f) => f.subarray(0, 20))).toBe("BWK_ERR_FEED_BAD_FRAME");
    expect(corrupt((f) => f.subarray(0, f.length - 64))).toBe("BWK_ERR_FEED_BAD_FRAME");
    expect(
      corrupt((f) => {
        f[0] = 0;
        return f;
      }),
    ).toBe("BWK_ERR_FEED_BAD_FRAME");
    expect(
      corrupt((f) => {
        new DataView(f.buffer).setUint32(8, 1 << 30, true);
        return f;
      }),
    ).toBe("BWK_ERR_FEED_BAD_FRAME");
  });
});

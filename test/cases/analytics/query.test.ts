import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnalyticsReads } from "../../../src/cases/analytics/query/index.ts";
import { eventually, serviceAvailable } from "../../support/services.ts";
import { type StoreTarget, storeTargets } from "../../support/stores.ts";
import { anomalyRow, type QueryFixture, queryFixture, windowRow } from "./query-harness.ts";

const targets = await storeTargets();
const redisUp = await serviceAvailable("redis");
const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z, a window boundary

describe.each(targets.filter((t) => t.name === "sqlite" || redisUp))(
  "analytics query API on $name",
  (target: StoreTarget) => {
    let f: QueryFixture;
    beforeAll(async () => {
      f = await queryFixture(target);
    }, 30_000);
    afterAll(async () => {
      await f?.close();
      await target.cleanup();
    });

    it("GET /symbols/:symbol/latest answers the last trade, the last closed window and its SMA/EMA", async () => {
      await f.write("AAPL", "XNAS", {
        windows: [
          windowRow("AAPL", "XNAS", T0, { open: 100, close: 101 }),
          windowRow("AAPL", "XNAS", T0 + 1_000, { open: 101, close: 103 }),
        ],
        latest: [
          {
            symbol: "AAPL",
            exchange: "XNAS",
            asset_class: "equity",
            trade_id: 42,
            price: 103.5,
            size: 5,
            ts: T0 + 2_100,
            updated_at: T0 + 2_200,
          },
        ],
      });
      const res = await f.get("/symbols/AAPL/latest");
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        symbol: "AAPL",
        exchange: "XNAS",
        assetClass: "equity",
        lastTrade: { tradeId: 42, price: 103.5, size: 5, ts: T0 + 2_100 },
        lastWindow: expect.objectContaining({ start: T0 + 1_000, end: T0 + 2_000, open: 101, close: 103 }),
        sma: 102.5,
        ema: 102.75,
      });
      // FX symbols of the feed carry "=" (EURUSD=X).
      expect((await f.get("/symbols/EURUSD=X/latest")).status).toBe(404);
      const missing = await f.get("/symbols/NOPE/latest");
      expect(missing.status).toBe(404);
      expect(missing.contentType).toContain("application/problem+json");
    });

    it("GET /symbols/:symbol/windows answers the windows inside [from, to], oldest first", async () => {
      await f.write("VOD", "XLON", {
        windows: [0, 1, 2, 3].map((i) =>
          windowRow("VOD", "XLON", T0 + i * 1_000, { open: 70 + i, close: 71 + i }),
        ),
      });
      const res = await f.get(`/symbols/VOD/windows?from=${T0 + 1_000}&to=${T0 + 3_000}`);
      expect(res.status).toBe(200);
      expect(res.body.windows.map((w: { start: number }) => w.start)).toEqual([T0 + 1_000, T0 + 2_000]);
      const limited = await f.get(`/symbols/VOD/windows?from=${T0}&to=${T0 + 9_000}&limit=1`);
      expect(limited.body.windows).toHaveLength(1);
    });

    it("answers 400 problem+json naming the bad parameter, never a 500", async () => {
      const cases: Array<[string, string]> = [
        [`/symbols/VOD/windows?from=${T0 + 5}&to=${T0}`, "querystring.to"],
        [`/symbols/VOD/windows?to=${T0}`, "querystring.from"],
        [`/symbols/VOD/windows?from=abc&to=${T0}`, "querystring.from"],
        ["/symbols/bad%20symbol!/latest", "params.symbol"],
        ["/symbols/AAPL/latest?window=0", "querystring.window"],
        ["/anomalies", "querystring.since"],
        ["/anomalies?since=-1", "querystring.since"],
        ["/top-movers?window=-5", "querystring.window"],
        ["/top-movers?limit=1000", "querystring.limit"],
        ["/top-movers?colour=red", "querystring.colour"],
      ];
      for (const [url, field] of cases) {
        const res = await f.get(url);
        expect(res.status, url).toBe(400);
        expect(res.contentType, url).toContain("application/problem+json");
        expect(
          res.body.errors.map((e: { field: string }) => e.field),
          url,
        ).toContain(field);
      }
    });

    it("GET /anomalies merges every shard's anomalies since a time, newest first", async () => {
      const since = T0 + 50_000;
      await f.write("MSFT", "XNAS", {
        anomalies: [anomalyRow("MSFT", "XNAS", since + 10), anomalyRow("MSFT", "XNAS", since - 1)],
      });
      await f.write("BP", "XLON", { anomalies: [anomalyRow("BP", "XLON", since + 20)] });
      const res = await f.get(`/anomalies?since=${since}`);
      expect(res.status).toBe(200);
      expect(res.body.anomalies.map((a: { symbol: string; at: number }) => [a.symbol, a.at])).toEqual([
        ["BP", since + 20],
        ["MSFT", since + 10],
      ]);
    });

    it("GET /top-movers fans out to every shard and merges by the size of the move", async () => {
      const w = 60_000; // a window size only this test writes
      const start = T0;
      const move = (symbol: string, exchange: string, open: number, close: number) =>
        f.write(symbol, exchange, { windows: [windowRow(symbol, exchange, start, { open, close }, w)] });
      await move("NVDA", "XNAS", 100, 110); // +10 %
      await move("TSLA", "XNAS", 100, 97); // -3 %
      await move("HSBA", "XLON", 100, 88); // -12 %
      await move("BARC", "XLON", 100, 101); // +1 %
      // An older window must not count.
      await f.write("OLD", "XLON", {
        windows: [windowRow("OLD", "XLON", start - w, { open: 100, close: 200 }, w)],
      });
      const res = await f.get(`/top-movers?window=${w}&limit=3`);
      expect(res.status).toBe(200);
      expect(res.body.window).toEqual({ start, end: start + w });
      expect(res.body.movers.map((m: { symbol: string }) => m.symbol)).toEqual(["HSBA", "NVDA", "TSLA"]);
      expect(res.body.movers[0].changePct).toBeCloseTo(-12);
      const none = await f.get("/top-movers?window=7777");
      expect(none.body).toEqual({ windowMs: 7777, window: null, movers: [] });
    });

    it("top movers merged from the shards equal the top movers of all rows together (fast-check)", async () => {
      let windowMs = 100_000;
      const mover = fc.record({
        exchange: fc.constantFrom("XNAS", "XLON"),
        open: fc.integer({ min: 1, max: 1_000 }),
        close: fc.integer({ min: 1, max: 1_000 }),
      });
      await fc.assert(
        fc.asyncProperty(
          fc.array(mover, { minLength: 1, maxLength: 12 }),
          fc.integer({ min: 1, max: 8 }),
          async (movers, limit) => {
            windowMs += 1; // a window size of its own per run
            const rows = movers.map((m, i) => ({ ...m, symbol: `P${windowMs}_${i}` }));
            for (const r of rows) {
              await f.write(r.symbol, r.exchange, {
                windows: [windowRow(r.symbol, r.exchange, T0, { open: r.open, close: r.close }, windowMs)],
              });
            }
            const expected = rows
              .map((r) => ({ symbol: r.symbol, move: Math.abs((r.close - r.open) / r.open) }))
              .sort((a, b) => b.move - a.move || a.symbol.localeCompare(b.symbol))
              .slice(0, limit);
            const res = await f.get(`/top-movers?window=${windowMs}&limit=${limit}`);
            const got = res.body.movers.map((m: { symbol: string; changePct: number }) => ({
              symbol: m.symbol,
              move: Math.abs(m.changePct) / 100,
            }));
            // Equal moves may come in any symbol order only if the sizes match exactly; compare sizes, then sets.
            expect(got.map((g: { move: number }) => g.move)).toEqual(
              expected.map((e) => expect.closeTo(e.move, 12)),
            );
            expect(got).toHaveLength(Math.min(limit, rows.length));
          },
        ),
        { numRuns: target.name === "sqlite" ? 30 : 10 },
      );
    });

    it("serves a repeated read from the cache, and a window event invalidates it", async () => {
      await f.write("SAP", "XNAS", { windows: [windowRow("SAP", "XNAS", T0, { open: 50, close: 51 })] });
      const hitsBefore = await f.counter("cache_requests_total", { result: "hit" });
      const first = await f.get("/symbols/SAP/latest");
      expect(first.body.lastWindow.close).toBe(51);
      // The store changes under the cache: without an event, readers still get the cached answer.
      await f.write("SAP", "XNAS", {
        windows: [windowRow("SAP", "XNAS", T0 + 1_000, { open: 51, close: 55 })],
      });
      const second = await f.get("/symbols/SAP/latest");
      expect(second.body.lastWindow.close).toBe(51);
      expect(await f.counter("cache_requests_total", { result: "hit" })).toBe(hitsBefore + 1);
      const handled = f.query.invalidations;
      await f.windowsClosed(["SAP"], T0 + 2_000);
      await eventually(() => f.query.invalidations > handled, { message: "the window event to arrive" });
      const third = await f.get("/symbols/SAP/latest");
      expect(third.body.lastWindow.close).toBe(55);
      expect(await f.observed("bulwark_analytics_freshness_window_end_to_visible_seconds")).toBeGreaterThan(
        0,
      );
      expect(await f.observed("bulwark_analytics_freshness_commit_to_visible_seconds")).toBeGreaterThan(0);
    });

    it("a newer stored trade reaches the latest answer with its LatestTradesUpdated event, without a window event", async () => {
      const trade = (trade_id: number, price: number, ts: number) => ({
        symbol: "SIE",
        exchange: "XETR",
        asset_class: "equity" as const,
        trade_id,
        price,
        size: 1,
        ts,
        updated_at: ts,
      });
      await f.write("SIE", "XETR", {
        windows: [windowRow("SIE", "XETR", T0, { open: 10, close: 11 })],
        latest: [trade(1, 11, T0 + 1_100)],
      });
      expect((await f.get("/symbols/SIE/latest")).body.lastTrade.price).toBe(11);
      await f.write("SIE", "XETR", { latest: [trade(2, 12, T0 + 1_200)] });
      // Cached: the newer trade is not visible until its event arrives.
      expect((await f.get("/symbols/SIE/latest")).body.lastTrade.price).toBe(11);
      const windowEvents = f.query.invalidations;
      const handled = f.query.latestInvalidations;
      await f.latestStored(["SIE"]);
      await eventually(() => f.query.latestInvalidations > handled, {
        message: "the latest-trade event to arrive",
      });
      expect((await f.get("/symbols/SIE/latest")).body.lastTrade.price).toBe(12);
      expect(f.query.invalidations).toBe(windowEvents);
    });
  },
);

describe.each(targets.filter((t) => t.name === "sqlite" || redisUp))(
  "analytics query single-flight on $name",
  (target: StoreTarget) => {
    let f: QueryFixture;
    let loads = 0;
    let release: () => void = () => {};
    let gate = Promise.resolve();
    beforeAll(async () => {
      f = await queryFixture(target, {
        wrapReads: (reads): AnalyticsReads => ({
          ...reads,
          newestTrades: (s) => reads.newestTrades(s),
          windows: (s, q) => reads.windows(s, q),
          anomalies: (q) => reads.anomalies(q),
          topMovers: (q) => reads.topMovers(q),
          async latest(symbol, windowMs) {
            loads++;
            await gate;
            return reads.latest(symbol, windowMs);
          },
        }),
      });
    }, 30_000);
    afterAll(async () => {
      await f?.close();
      await target.cleanup();
    });

    it("30 concurrent misses of one symbol run one store read, and all get its answer", async () => {
      await f.write("IBM", "XNAS", { windows: [windowRow("IBM", "XNAS", T0, { open: 10, close: 12 })] });
      gate = new Promise<void>((r) => (release = r));
      const readers = Array.from({ length: 30 }, () => f.get("/symbols/IBM/latest"));
      await eventually(async () => (await f.counter("cache_coalesced_total")) === 29, {
        message: "29 readers to join the one load",
      });
      // The first reader takes the Redis loader lock before it loads: the others can all have joined
      // while that round trip is still out, so wait for the load to start rather than assume it has.
      await eventually(() => loads > 0, { message: "the one load to start" });
      expect(loads).toBe(1);
      release();
      const answers = await Promise.all(readers);
      expect(answers.every((a) => a.status === 200 && a.body.lastWindow.close === 12)).toBe(true);
      expect(loads).toBe(1);
    });
  },
);

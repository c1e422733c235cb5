import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import {
  emptyWrites,
  type LatestTradesTable,
  openShardedStore,
  ShardedStore,
  type WindowResultsTable,
} from "../../../src/cases/analytics/store/index.ts";
import { partitionOf } from "../../../src/platform/partitioning/index.ts";
import type { Store } from "../../../src/platform/storage/index.ts";
import { type StoreTarget, storeTargets } from "../../support/stores.ts";

const targets = await storeTargets();
const opened: Store[] = [];
afterAll(async () => {
  for (const s of opened.splice(0)) await s.close();
  for (const t of targets) await t.cleanup();
});

const open = (target: StoreTarget) => async () => {
  const store = await target.open();
  opened.push(store);
  return store;
};

const windowRow = (over: Partial<WindowResultsTable> = {}): WindowResultsTable => ({
  symbol: "ACME",
  window_ms: 1_000,
  window_start: 5_000,
  window_end: 6_000,
  exchange: "XNYS",
  asset_class: "equity",
  count: 3,
  volume: 30,
  vwap: 101.5,
  open: 100,
  high: 103,
  low: 99,
  close: 102,
  sma: null,
  ema: null,
  revision: 0,
  updated_at: 1,
  ...over,
});

const latestRow = (over: Partial<LatestTradesTable> = {}): LatestTradesTable => ({
  symbol: "ACME",
  exchange: "XNYS",
  asset_class: "equity",
  trade_id: 7,
  price: 102,
  size: 1,
  ts: 5_900,
  updated_at: 1,
  ...over,
});

describe.each(targets)("analytics sharded store ($name)", (target) => {
  it("routes by the explicit map first, else a stable hash, and finds a symbol's shard from its symbols table", async () => {
    const shards = await openShardedStore({
      config: { by: "exchange", count: 3, map: { XNYS: 2 } },
      open: open(target),
    });
    expect(shards.shardIndexOf("XNYS")).toBe(2);
    expect(shards.shardIndexOf("XLON")).toBe(partitionOf("XLON", 3));
    expect(shards.shardIndexOfListing({ exchange: "XNYS", assetClass: "equity" })).toBe(2);
    const writes = emptyWrites();
    writes.symbols.push({ symbol: "ACME", exchange: "XNYS", asset_class: "equity" });
    await shards.write(2, writes);
    expect(await shards.shardOfSymbol("ACME")).toBe(shards.shards[2]);
    // Another process knows nothing yet: it finds the symbol through the shards' symbols tables.
    const other = new ShardedStore({
      shards: shards.shards,
      config: { by: "exchange", count: 3, map: { XNYS: 2 } },
    });
    expect(await other.shardIndexOfSymbol("ACME")).toBe(2);
    expect(await shards.shardOfSymbol("NOPE")).toBeUndefined();
    const byClass = await openShardedStore({
      config: { by: "assetClass", count: 2, map: {} },
      open: open(target),
    });
    expect(byClass.shardIndexOfListing({ exchange: "XNYS", assetClass: "crypto" })).toBe(
      partitionOf("crypto", 2),
    );
    await expect(
      openShardedStore({ config: { by: "exchange", count: 2, map: { XNYS: 5 } }, open: open(target) }),
    ).rejects.toThrow(/only 2 shards/);
  });

  it("upserts: a replay rewrites the same rows, a re-fired window replaces its row, an older trade never replaces the latest", async () => {
    const shards = await openShardedStore({
      config: { by: "exchange", count: 1, map: {} },
      open: open(target),
    });
    const writes = emptyWrites();
    writes.windows.push(windowRow(), windowRow({ window_start: 6_000, window_end: 7_000 }));
    writes.latest.push(latestRow());
    writes.anomalies.push({
      symbol: "ACME",
      window_ms: 1_000,
      window_start: 5_000,
      kind: "volume-spike",
      score: 6,
      value: 30,
      exchange: "XNYS",
      asset_class: "equity",
      at: 1,
    });
    await shards.write(0, writes);
    await shards.write(0, writes);
    const db = shards.shards[0]!.db;
    expect(await db.selectFrom("window_results").select("symbol").execute()).toHaveLength(2);
    expect(await db.selectFrom("anomalies").select("symbol").execute()).toHaveLength(1);

    const again = emptyWrites();
    again.windows.push(windowRow({ count: 4, volume: 40, vwap: 101.25, revision: 1 }));
    again.latest.push({ ...writes.latest[0]!, trade_id: 6, price: 90, ts: 5_800 });
    await shards.write(0, again);
    const row = await db
      .selectFrom("window_results")
      .selectAll()
      .where("window_start", "=", 5_000)
      .executeTakeFirstOrThrow();
    expect({ count: Number(row.count), vwap: row.vwap, revision: row.revision }).toEqual({
      count: 4,
      vwap: 101.25,
      revision: 1,
    });
    const latest = await db.selectFrom("latest_trades").selectAll().executeTakeFirstOrThrow();
    expect({ trade_id: Number(latest.trade_id), price: latest.price }).toEqual({ trade_id: 7, price: 102 });
  });

  it("stores every value as given: quotes, commas, braces, backslashes and NULL in text, nulls, exact floats, 2^53 − 1 ids", async () => {
    const shards = await openShardedStore({
      config: { by: "exchange", count: 1, map: {} },
      open: open(target),
    });
    const odd = ['a"b', "c,d", "{e}", "f\\g", "NULL", "h i", ""];
    const writes = emptyWrites();
    odd.forEach((symbol, i) => {
      writes.symbols.push({ symbol, exchange: "XNYS", asset_class: "equity" });
      writes.windows.push(
        windowRow({ symbol, vwap: 0.1 + 0.2 + i, sma: i % 2 === 0 ? null : 1 / 3, ema: 1e-300 * i }),
      );
      writes.latest.push({
        symbol,
        exchange: "XNYS",
        asset_class: "equity",
        trade_id: Number.MAX_SAFE_INTEGER - i,
        price: 123.456789012345 + i,
        size: 0.000_001,
        ts: 1_700_000_000_123 + i,
        updated_at: 2,
      });
    });
    await shards.write(0, writes);
    const db = shards.shards[0]!.db;
    // Sorted here, not by ORDER BY: the database's collation may order punctuation otherwise.
    const bySymbol = (a: unknown[], b: unknown[]) => ((a[0] as string) < (b[0] as string) ? -1 : 1);
    const windows = await db.selectFrom("window_results").selectAll().execute();
    expect(windows.map((w) => [w.symbol, w.vwap, w.sma, w.ema]).sort(bySymbol)).toEqual(
      writes.windows.map((w) => [w.symbol, w.vwap, w.sma, w.ema]).sort(bySymbol),
    );
    const latest = await db.selectFrom("latest_trades").selectAll().execute();
    expect(
      latest.map((l) => [l.symbol, Number(l.trade_id), l.price, l.size, Number(l.ts)]).sort(bySymbol),
    ).toEqual(writes.latest.map((l) => [l.symbol, l.trade_id, l.price, l.size, l.ts]).sort(bySymbol));
    expect(await shards.shardIndexOfSymbol('a"b')).toBe(0);
  });

  // On Postgres, closed windows have a write queue (and connection) of their own; SQLite runs statements
  // synchronously on one connection, so nothing is ever in flight there.
  it.skipIf(target.name !== "postgres")(
    "a window write is not held behind a latest-trades write in flight to the same shard",
    { timeout: 10_000 },
    async () => {
      const shards = await openShardedStore({
        config: { by: "exchange", count: 1, map: {} },
        open: open(target),
      });
      const db = shards.shards[0]!.db;
      // Another session holds latest_trades, so a latest-trades upsert stays in flight until it lets go.
      let release!: () => void;
      const released = new Promise<void>((r) => {
        release = r;
      });
      let locked!: () => void;
      const isLocked = new Promise<void>((r) => {
        locked = r;
      });
      const holder = db.transaction().execute(async (trx) => {
        await sql`lock table latest_trades in exclusive mode`.execute(trx);
        locked();
        await released;
      });
      let latestWrite: Promise<void> | undefined;
      let windowWrite: Promise<void> | undefined;
      try {
        await isLocked;
        const latest = emptyWrites();
        latest.symbols.push({ symbol: "ACME", exchange: "XNYS", asset_class: "equity" });
        latest.latest.push(latestRow());
        let latestDone = false;
        latestWrite = shards.write(0, latest).then(() => {
          latestDone = true;
        });
        // Wait until that upsert is in flight, blocked on the lock (a query per round, no fixed sleep).
        for (;;) {
          const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_locks
            where not granted and relation = 'latest_trades'::regclass`.execute(db);
          if (rows[0]!.n > 0) break;
        }
        const windows = emptyWrites();
        windows.windows.push(windowRow());
        // A trade of the same flush goes with its window to the same shard: the window still goes first.
        windows.latest.push(latestRow({ trade_id: 8, ts: 5_950 }));
        windowWrite = shards.write(0, windows);
        // The window row is committed and visible while both latest-trades upserts still wait.
        for (;;) {
          const stored = await db.selectFrom("window_results").select("symbol").execute();
          if (stored.length === 1) break;
        }
        expect(latestDone).toBe(false);
      } finally {
        // Also when the test fails: the holder's connection must go back to the pool.
        release();
        await holder;
      }
      await Promise.all([latestWrite, windowWrite]);
      const stored = await db.selectFrom("latest_trades").selectAll().executeTakeFirstOrThrow();
      expect(Number(stored.trade_id)).toBe(8);
    },
  );
});

import { describe, expect, it } from "vitest";
import { batchOf, type Trade } from "../../../src/cases/analytics/feed/index.ts";
import { eventually } from "../../support/services.ts";
import {
  compareWindows,
  expectedWindows,
  lagOf,
  profiles,
  seededTrades,
  storedWindows,
  systemsOfThisFile,
} from "./processor-harness.ts";

const systems = systemsOfThisFile();

describe.each(await profiles())("analytics processor correctness (%s)", (profile) => {
  it("stores exactly the windows an offline computation gives for a feed with disorder, late data and duplicates", async () => {
    const env = systems.env(profile);
    const node = await systems.node(env, ["ingest", "processor"]);
    const trades = seededTrades(20_000, 7);
    // Five slices, each processed and checkpointed before the next: the late trades of a slice then
    // arrive after the watermark passed their window, so the re-firing path is exercised.
    for (let slice = 0; slice < 5; slice++) {
      for (let i = slice * 4_000; i < (slice + 1) * 4_000; i += 1_000) {
        await node.analytics.publisher.publish(batchOf(trades.slice(i, i + 1_000)));
      }
      await eventually(async () => (await lagOf(node)) === 0, { timeoutMs: 20_000, message: "lag 0" });
    }
    const expected = expectedWindows(trades, 4);
    expect(expected.size).toBeGreaterThan(200);
    let problems: string[] = [];
    await eventually(
      async () => {
        problems = compareWindows(await storedWindows(node.analytics), expected);
        return problems.length === 0;
      },
      { timeoutMs: 30_000, intervalMs: 200, message: "stored windows to match" },
    ).catch(() => expect(problems.slice(0, 10)).toEqual([]));
    const stored = await storedWindows(node.analytics);
    // Late trades within the allowed lateness re-fired their windows: the replacement is what is stored.
    expect([...stored.values()].some((w) => w.revision > 0)).toBe(true);
    // The latest trade of a symbol is its newest by event time (a later arrival wins a tie).
    const newest = new Map<string, Trade>();
    for (const t of trades)
      if (t.ts >= (newest.get(t.symbol)?.ts ?? Number.NEGATIVE_INFINITY)) newest.set(t.symbol, t);
    for (const [symbol, trade] of newest) {
      const shard = await node.analytics.shards.shardOfSymbol(symbol);
      const row = await shard!.db
        .selectFrom("latest_trades")
        .selectAll()
        .where("symbol", "=", symbol)
        .executeTakeFirst();
      expect({ symbol, tradeId: Number(row?.trade_id), price: row?.price }).toEqual({
        symbol,
        tradeId: trade.tradeId,
        price: trade.price,
      });
    }
  });
});

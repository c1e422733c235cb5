import { afterAll, describe, expect, it } from "vitest";
import { eventually } from "../../support/services.ts";
import { cleanupSystem, type Node, profiles, startNode, systemEnv } from "./processor-harness.ts";

const all = await profiles();

interface LatestBody {
  lastTrade: { ts: number } | null;
  lastWindow: { start: number; close: number } | null;
}

async function histogramCount(node: Node, name: string): Promise<number> {
  const metric = (await node.rt.registry.getSingleMetric(name)?.get()) as
    | { values: Array<{ metricName?: string; value: number }> }
    | undefined;
  return metric?.values.find((v) => v.metricName === `${name}_count`)?.value ?? 0;
}

describe.each(all)("analytics freshness end to end on %s", (profile) => {
  const envs: Array<Record<string, string>> = [];
  const nodes: Node[] = [];
  afterAll(async () => {
    for (const n of nodes.splice(0)) await n.close();
    for (const env of envs) await cleanupSystem(env);
  });

  it("a closed window reaches the query API through the processor's window event, not the cache TTL", async () => {
    // A TTL of ten minutes: only the event-driven invalidation can make the second window visible in time.
    const env = systemEnv(profile, { BULWARK_ANALYTICS_CACHE_TTL_MS: "600000" });
    envs.push(env);
    const node = await startNode(env, ["ingest", "processor", "query"]);
    nodes.push(node);
    const { ingest, query } = node.analytics.urls;
    const base = Math.floor(Date.now() / 1_000) * 1_000 - 10_000;
    let id = 1;
    const post = async (prices: Array<[number, number]>) => {
      const trades = prices.map(([offset, price]) => ({
        tradeId: id++,
        symbol: "FRSH",
        exchange: "XNAS",
        assetClass: "equity",
        price,
        size: 1,
        ts: base + offset,
      }));
      const res = await fetch(`${ingest}/trades`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(trades),
      });
      expect(res.status).toBe(202);
    };
    const latest = async () => {
      const res = await fetch(`${query}/symbols/FRSH/latest`);
      return res.status === 200 ? ((await res.json()) as LatestBody) : undefined;
    };

    // Window [base, base+1s) closes once the watermark (max ts − 0.5 s) passes its end.
    await post([
      [100, 10],
      [900, 11],
      [2_600, 12],
    ]);
    const first = await eventually(async () => (await latest())?.lastWindow ?? undefined, {
      timeoutMs: 30_000,
      message: "the first window to be visible",
    });
    expect(first.start).toBe(base);
    expect(first.close).toBe(11);
    expect((await latest())?.lastWindow?.start).toBe(base); // now cached

    await post([
      [3_100, 13],
      [3_900, 15],
      [5_600, 16],
    ]);
    const next = await eventually(
      async () => {
        const w = (await latest())?.lastWindow;
        return w && w.start > base ? w : undefined;
      },
      { timeoutMs: 30_000, message: "the next window to replace the cached answer" },
    );
    expect(next.start).toBe(base + 3_000);
    expect(next.close).toBe(15);
    // The freshness histograms are observed when the checkpoint's window event is handled; the new trades'
    // LatestTradesUpdated event may have refreshed the answer a moment before that.
    for (const name of [
      "bulwark_analytics_freshness_window_end_to_visible_seconds",
      "bulwark_analytics_freshness_trade_to_visible_seconds",
      "bulwark_analytics_freshness_commit_to_visible_seconds",
    ]) {
      await eventually(async () => (await histogramCount(node, name)) > 0, { message: `${name} observed` });
    }
  }, 60_000);
});

import { afterAll, describe, expect, it } from "vitest";
import { eventually } from "../../support/services.ts";
import { cleanupSystem, type Node, profiles, startNode, systemEnv } from "./processor-harness.ts";

const all = await profiles();

describe.each(all)("analytics in batch mode (the 'before' architecture) on %s", (profile) => {
  const envs: Array<Record<string, string>> = [];
  const nodes: Node[] = [];
  afterAll(async () => {
    for (const n of nodes.splice(0)) await n.close();
    for (const env of envs) await cleanupSystem(env);
  });

  it("ingested trades reach the query API through the raw table and the periodic recompute, uncached", async () => {
    const env = systemEnv(profile, {
      BULWARK_ANALYTICS_MODE: "batch",
      BULWARK_ANALYTICS_BATCH_RECOMPUTE_INTERVAL_MS: "200",
    });
    envs.push(env);
    const node = await startNode(env, ["ingest", "processor", "query"]);
    nodes.push(node);
    expect(node.analytics.processor).toBeUndefined();
    expect(node.analytics.batch).toBeDefined();
    const { ingest, query } = node.analytics.urls;
    const base = Math.floor(Date.now() / 1_000) * 1_000 - 10_000;
    const trades = [
      [100, 10],
      [800, 12],
      [1_500, 11],
      [2_900, 13],
    ].map(([offset, price], i) => ({
      tradeId: i + 1,
      symbol: "BTCH",
      exchange: "XNAS",
      assetClass: "equity",
      price,
      size: 1,
      ts: base + offset!,
    }));
    const res = await fetch(`${ingest}/trades`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(trades),
    });
    expect(res.status).toBe(202);
    const latest = await eventually(
      async () => {
        const r = await fetch(`${query}/symbols/BTCH/latest`);
        const body =
          r.status === 200 ? ((await r.json()) as { lastWindow: { start: number } | null }) : undefined;
        return body?.lastWindow?.start === base + 1_000 ? body : undefined;
      },
      { timeoutMs: 30_000, message: "the recompute to publish both closed windows" },
    );
    expect(latest).toMatchObject({ lastWindow: { open: 11, close: 11 }, lastTrade: { price: 13 } });
    // The recompute announces what it wrote; the query role records how stale batch results are.
    const metrics = await eventually(
      async () => {
        const text = await (await fetch(`${query}/metrics`)).text();
        return /bulwark_analytics_freshness_window_end_to_visible_seconds_count(\{[^}]*\})? [1-9]/.test(text)
          ? text
          : undefined;
      },
      { message: "the batch window event to reach the query role" },
    );
    expect(metrics).not.toMatch(/cache_requests_total\{/);
  }, 60_000);
});

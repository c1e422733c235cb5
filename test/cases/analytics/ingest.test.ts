import { describe, expect, it } from "vitest";
import { TOPICS } from "../../../src/cases/analytics/events.ts";
import { decodeTrades, type Trade, tradesOf } from "../../../src/cases/analytics/feed/index.ts";
import { partitionOf } from "../../../src/platform/partitioning/index.ts";
import { eventually } from "../../support/services.ts";
import { profiles, systemsOfThisFile } from "./processor-harness.ts";

const systems = systemsOfThisFile();

const trade = (i: number, over: Partial<Trade> = {}): Trade => ({
  tradeId: 1_000 + i,
  symbol: i % 2 ? "ACME" : "BTC-USD",
  exchange: i % 2 ? "XNYS" : "COINX",
  assetClass: i % 2 ? "equity" : "crypto",
  price: 100 + i,
  size: 1 + i,
  ts: 1_767_225_600_000 + i,
  ...over,
});

describe.each(await profiles())("analytics ingest (%s)", (profile) => {
  it("publishes JSON arrays and NDJSON as per-partition frames; a bad trade is a 400 naming it, and nothing of its batch is published", async () => {
    const env = systems.env(profile);
    const node = await systems.node(env, ["ingest"]);
    const received: { partition: number; trades: Trade[] }[] = [];
    const sub = node.rt.bus.subscribe({
      topic: TOPICS.trades,
      group: "ingest-test",
      handler: (m) => {
        const frame = Buffer.from((m.payload as { frame: string }).frame, "base64");
        received.push({ partition: m.partition, trades: tradesOf(decodeTrades(new Uint8Array(frame))) });
      },
    });
    const base = node.analytics.urls.ingest!;
    const post = (body: string, type = "application/json") =>
      fetch(`${base}/trades`, { method: "POST", headers: { "content-type": type }, body });

    const bad = await post(JSON.stringify([trade(0), trade(1), trade(2, { price: -1 })]));
    expect(bad.status).toBe(400);
    expect(bad.headers.get("content-type")).toContain("application/problem+json");
    expect(((await bad.json()) as { errors: unknown[] }).errors).toContainEqual(
      expect.objectContaining({ field: "body[2].price" }),
    );
    const missing = await post(JSON.stringify([{ ...trade(0), exchange: undefined }]));
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { errors: unknown[] }).errors).toContainEqual(
      expect.objectContaining({ field: "body[0].exchange" }),
    );
    const badLine = await post(`${JSON.stringify(trade(0))}\n{not json\n`, "application/x-ndjson");
    expect(badLine.status).toBe(400);
    expect(((await badLine.json()) as { errors: unknown[] }).errors).toEqual([
      { field: "body[1]", message: "line 2 is not JSON" },
    ]);

    // FX symbols as the feed names them (EURUSD=X) are accepted.
    const good = [trade(10), trade(11), trade(12), trade(13, { symbol: "EURUSD=X", assetClass: "fx" })];
    const ok = await post(JSON.stringify(good));
    expect(ok.status).toBe(202);
    expect(await ok.json()).toMatchObject({ accepted: 4 });
    const nd = [trade(20), trade(21)];
    const okNd = await post(`${nd.map((t) => JSON.stringify(t)).join("\n")}\n`, "application/x-ndjson");
    expect(okNd.status).toBe(202);

    await eventually(() => received.flatMap((r) => r.trades).length >= 6, { message: "frames consumed" });
    await sub.stop();
    const all = received.flatMap((r) => r.trades);
    // Exactly the good requests' trades: the rejected ones never reached the log.
    expect(all.map((t) => t.tradeId).sort()).toEqual([...good, ...nd].map((t) => t.tradeId).sort());
    expect(all).toEqual(expect.arrayContaining([...good, ...nd]));
    for (const frame of received) {
      for (const t of frame.trades) expect(partitionOf(t.symbol, 4)).toBe(frame.partition);
    }
  });
});

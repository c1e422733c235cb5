import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createRuntime, loadAppConfig, storeConfigFor } from "../../../src/app/index.ts";
import { batchOf } from "../../../src/cases/analytics/feed/index.ts";
import { TradePublisher } from "../../../src/cases/analytics/ingest/index.ts";
import { openShardedStore } from "../../../src/cases/analytics/store/index.ts";
import { declareAnalyticsTopics } from "../../../src/cases/analytics/system.ts";
import { openStore } from "../../../src/platform/storage/index.ts";
import { runCli } from "../../support/cli.ts";
import { logger, windowRow, writesFor } from "./query-harness.ts";

const dir = mkdtempSync(join(tmpdir(), "bulwark-analytics-cli-"));
const env = {
  BULWARK_PROFILE: "embedded",
  BULWARK_DATA_DIR: dir,
  BULWARK_LOG_LEVEL: "warn",
  BULWARK_ANALYTICS_SHARDS_COUNT: "2",
};
const DAY = Date.parse("2026-01-02T00:00:00Z");

const cli = (args: string[]) => runCli(["analytics", ...args], env);

describe("bulwark analytics (embedded profile)", () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("report --date writes the end-of-day report as CSV on stdout or JSON to a file, progress on stderr", async () => {
    const config = loadAppConfig({ env });
    const shards = await openShardedStore({
      config: config.analytics.shards,
      open: (name) => openStore(storeConfigFor(config, name)),
    });
    for (const [symbol, exchange] of [
      ["AAPL", "XNAS"],
      ["VOD", "XLON"],
    ] as const) {
      await shards.write(
        shards.shardIndexOf(exchange),
        writesFor(symbol, exchange, {
          windows: [
            windowRow(symbol, exchange, DAY, { open: 10, close: 11 }),
            windowRow(symbol, exchange, DAY + 1_000, { open: 11, close: 9 }),
          ],
        }),
      );
    }
    for (const s of shards.shards) await s.close();

    const csv = await cli(["report", "--date", "2026-01-02", "--format", "csv"]);
    expect(csv.code).toBe(0);
    expect(csv.out.split("\r\n")).toEqual([
      "symbol,exchange,assetClass,open,high,low,close,vwap,volume,count",
      "AAPL,XNAS,equity,10,11,9,9,10.25,60,6",
      "VOD,XLON,equity,10,11,9,9,10.25,60,6",
      "",
    ]);
    expect(csv.err).toMatch(/report: shard 1\/2 done/);
    expect(csv.err).toMatch(/report: shard 2\/2 done/);

    const file = join(dir, "report.json");
    const json = await cli(["report", "--date", "2026-01-02", "--out", file]);
    expect(json.code).toBe(0);
    expect(json.out).toBe("");
    const report = JSON.parse(readFileSync(file, "utf8"));
    expect(report.symbols.map((s: { symbol: string }) => s.symbol)).toEqual(["AAPL", "VOD"]);
  });

  it("rejects bad arguments with exit 2", async () => {
    for (const args of [
      ["report", "--date", "2026-02-30"],
      ["report"],
      ["report", "--date", "2026-01-02", "--format", "xml"],
      ["backfill", "--from", "yesterday"],
      ["backfill"],
      ["vacuum"],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).toBe(2);
    }
  });

  it("backfill --from earliest rebuilds the raw trades table from the log", async () => {
    const config = loadAppConfig({ env });
    const rt = await createRuntime(config, logger);
    await declareAnalyticsTopics(rt.bus, config.analytics);
    const trades = Array.from({ length: 500 }, (_, i) => ({
      tradeId: i + 1,
      symbol: `S${i % 7}`,
      exchange: "XNAS",
      assetClass: "equity" as const,
      price: 100 + (i % 13),
      size: 1,
      ts: DAY + i * 10,
    }));
    await new TradePublisher({ bus: rt.bus, partitions: config.analytics.partitions }).publish(
      batchOf(trades),
    );
    await rt.close();

    const r = await cli(["backfill", "--from", "earliest"]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ loaded: 500, rows: 500 });
    expect(r.err).toMatch(/backfill: \d+ trades loaded, 0 messages to go/);
  }, 30_000);
});

import { describe, expect, it } from "vitest";
import { runCli } from "../support/cli.ts";

async function feed(args: string[]) {
  const { code, out, err } = await runCli(["feed", ...args]);
  return { code, lines: out.split("\n").filter(Boolean), err };
}

describe("bulwark feed", () => {
  it("writes the seeded feed as NDJSON trades, the same for the same options", async () => {
    const args = ["--rate", "2000", "--symbols", "20", "--duration", "10", "--seed", "7", "--fast"];
    const first = await feed(args);
    expect(first.code).toBe(0);
    // Poisson arrivals with bursts (and injected duplicates) around a mean of 20,000 trades.
    expect(first.lines.length).toBeGreaterThan(10_000);
    expect(first.lines.length).toBeLessThan(40_000);
    const trade = JSON.parse(first.lines[0]!);
    expect(Object.keys(trade).sort()).toEqual([
      "assetClass",
      "exchange",
      "price",
      "size",
      "symbol",
      "tradeId",
      "ts",
    ]);
    expect(first.err).toMatch(/feed: \d+ trades \(\d+ duplicates, \d+ out of order, \d+ late\)/);
    const again = await feed(args);
    expect(again.lines).toEqual(first.lines);
    const other = await feed([
      "--rate",
      "2000",
      "--symbols",
      "20",
      "--duration",
      "2",
      "--seed",
      "8",
      "--fast",
    ]);
    expect(other.lines).not.toEqual(first.lines);
  });

  it("rejects missing or bad options with usage and exit 2", async () => {
    expect((await feed(["--symbols", "5", "--duration", "1"])).code).toBe(2);
    const bad = await feed(["--rate", "ten", "--symbols", "5", "--duration", "1"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--rate must be a number/);
    expect((await feed(["--rate", "10", "--symbols", "1.5", "--duration", "1"])).code).toBe(2);
    expect(
      (await feed(["--rate", "10", "--symbols", "5", "--duration", "1", "--start", "yesterday"])).code,
    ).toBe(2);
  });
});

import { describe, expect, it } from "vitest";
import {
  type Anomaly,
  ema,
  IndicatorOperator,
  type Indicators,
  meanAndStd,
  sma,
  type WindowResult,
} from "../../../src/platform/stream/index.ts";

function window(key: number, index: number, vwap: number, volume: number, revision = 0): WindowResult {
  const start = index * 1_000;
  return {
    key,
    start,
    end: start + 1_000,
    count: 1,
    volume,
    vwap,
    open: vwap,
    high: vwap,
    low: vwap,
    close: vwap,
    revision,
  };
}

function operator(options: { period: number; zScoreThreshold?: number; volumeSpikeFactor?: number }) {
  const indicators: Indicators[] = [];
  const anomalies: Anomaly[] = [];
  const op = new IndicatorOperator({
    ...options,
    onIndicators: (i) => indicators.push(i),
    onAnomaly: (a) => anomalies.push(a),
  });
  return { op, indicators, anomalies };
}

describe("stats", () => {
  it("computes SMA, EMA seeded with the first value, and the sample standard deviation", () => {
    expect(sma([1, 2, 3, 4])).toBe(2.5);
    expect(ema([10, 20], 0.5)).toBe(15);
    expect(ema([10, 20, 30], 0.5)).toBe(22.5);
    const { mean, std } = meanAndStd([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(mean).toBe(5);
    expect(std).toBeCloseTo(Math.sqrt(32 / 7), 12);
  });
});

describe("IndicatorOperator", () => {
  it("averages the last N windows of each key separately", () => {
    const { op, indicators } = operator({ period: 3 });
    [10, 20, 30, 40].forEach((v, i) => {
      op.process(window(1, i, v, 1));
    });
    op.process(window(2, 0, 100, 1));
    const last = indicators.filter((i) => i.key === 1).at(-1)!;
    expect(last).toMatchObject({ start: 3_000, sma: 30, windows: 3 });
    expect(last.ema).toBeCloseTo(ema([20, 30, 40], 0.5), 12);
    expect(indicators.at(-1)).toMatchObject({ key: 2, sma: 100, windows: 1 });
  });

  it("flags a return far outside the recent distribution, and a volume spike", () => {
    const { op, anomalies } = operator({ period: 10, zScoreThreshold: 3, volumeSpikeFactor: 4 });
    const calm = [100, 100.1, 99.9, 100.05, 99.95, 100.1, 100, 99.9, 100.05];
    calm.forEach((v, i) => {
      op.process(window(1, i, v, 10));
    });
    expect(anomalies).toEqual([]);
    op.process(window(1, calm.length, 103, 50));
    expect(anomalies.map((a) => a.kind).sort()).toEqual(["return-zscore", "volume-spike"]);
    const spike = anomalies.find((a) => a.kind === "volume-spike")!;
    expect(spike).toMatchObject({ key: 1, start: 9_000, score: 5, threshold: 4 });
    expect(anomalies.find((a) => a.kind === "return-zscore")!.score).toBeGreaterThan(3);
  });

  it("replaces a re-fired window's value instead of adding a window, and ignores windows older than N", () => {
    const { op, indicators } = operator({ period: 3 });
    [10, 20, 30].forEach((v, i) => {
      op.process(window(1, i, v, 1));
    });
    op.process(window(1, 1, 50, 1, 1));
    expect(indicators.at(-1)).toMatchObject({ start: 1_000, sma: 30, windows: 2, revision: 1 });
    op.process(window(1, 3, 40, 1));
    expect(indicators.at(-1)).toMatchObject({ start: 3_000, sma: 40, windows: 3 });
    const before = indicators.length;
    op.process(window(1, 0, 99, 1, 1));
    expect(indicators).toHaveLength(before);
  });

  it("restores from a JSON snapshot and continues identically", () => {
    const a = operator({ period: 4 });
    const b = operator({ period: 4 });
    const series = [5, 6, 7, 6, 9, 30, 8, 7].map((v, i) => window(3, i, v, i + 1));
    series.forEach((w) => {
      a.op.process(w);
    });
    series.slice(0, 5).forEach((w) => {
      b.op.process(w);
    });
    const c = operator({ period: 4 });
    c.op.restore(JSON.parse(JSON.stringify(b.op.snapshot())));
    series.slice(5).forEach((w) => {
      c.op.process(w);
    });
    expect([...b.indicators, ...c.indicators]).toEqual(a.indicators);
    expect([...b.anomalies, ...c.anomalies]).toEqual(a.anomalies);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createEventBatch,
  type EventBatch,
  hopping,
  isStreamError,
  tumbling,
  WindowAggregator,
  type WindowAssigner,
  type WindowResult,
} from "../../../src/platform/stream/index.ts";
import { type AcceptedElement, type Element, referenceWindows, relativeError } from "./reference.ts";

type Op = { batch: Element[] } | { advance: number };

function batchOf(elements: readonly Element[]): EventBatch {
  const batch = createEventBatch(elements.length, false);
  elements.forEach((e, i) => {
    batch.key[i] = e.key;
    batch.ts[i] = e.ts;
    batch.value[i] = e.value;
    batch.weight[i] = e.weight;
  });
  batch.length = elements.length;
  return batch;
}

interface Emission {
  result: WindowResult;
  watermark: number;
  previous: number;
}

interface Run {
  emissions: Emission[];
  accepted: AcceptedElement[];
  late: { element: Element; watermark: number }[];
}

/** Drives a fresh aggregator through `ops`, recording what it emitted and which elements it accepted. */
function driveFresh(
  windows: WindowAssigner,
  allowedLatenessMs: number,
  ops: readonly Op[],
): { aggregator: WindowAggregator; run: Run } {
  const run: Run = { emissions: [], accepted: [], late: [] };
  let previous = Number.NEGATIVE_INFINITY;
  let lateNow = new Set<number>();
  const aggregator = new WindowAggregator({
    windows,
    allowedLatenessMs,
    onResult: (result) => run.emissions.push({ result, watermark: aggregator.watermark, previous }),
    onLate: (_b, i) => lateNow.add(i),
  });
  previous = aggregator.watermark;
  for (const op of ops) {
    if ("batch" in op) {
      lateNow = new Set();
      aggregator.processBatch(batchOf(op.batch));
      op.batch.forEach((e, i) => {
        if (lateNow.has(i)) run.late.push({ element: e, watermark: aggregator.watermark });
        else run.accepted.push({ ...e, watermark: aggregator.watermark });
      });
    } else {
      previous = aggregator.watermark;
      aggregator.advanceWatermark(op.advance);
      previous = aggregator.watermark;
    }
  }
  return { aggregator, run };
}

const element = fc.record({
  key: fc.integer({ min: 0, max: 5 }),
  ts: fc.integer({ min: 0, max: 2_000 }),
  value: fc.double({ min: 1, max: 1_000, noNaN: true }),
  weight: fc.integer({ min: 1, max: 50 }),
});

const ops = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: fc.array(element, { minLength: 1, maxLength: 30 }).map((batch) => ({ batch })) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 2_200 }).map((advance) => ({ advance })) },
  ),
  { maxLength: 40 },
);

const assigner: fc.Arbitrary<WindowAssigner> = fc.oneof(
  fc.integer({ min: 10, max: 300 }).map((size) => tumbling(size)),
  fc
    .tuple(fc.integer({ min: 5, max: 100 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 20 }))
    .map(([slide, times, extra]) =>
      hopping(slide * times + Math.min(extra, slide - 1) * (times > 1 ? 1 : 0), slide),
    ),
);

const lateness = fc.integer({ min: 0, max: 200 });

function ordered(ops: readonly Op[]): Op[] {
  // Watermarks only move forward; make the generated advances cumulative maxima.
  let w = Number.NEGATIVE_INFINITY;
  return ops.map((op) => {
    if ("batch" in op) return op;
    w = Math.max(w, op.advance);
    return { advance: w };
  });
}

describe("WindowAggregator", () => {
  it("every accepted element lands in exactly the windows covering its ts; final windows equal an offline computation", () => {
    fc.assert(
      fc.property(assigner, lateness, ops, (windows, allowedLatenessMs, generated) => {
        const { aggregator, run } = driveFresh(windows, allowedLatenessMs, [
          ...ordered(generated),
          { advance: Number.POSITIVE_INFINITY },
        ]);
        const total = generated.reduce((n, op) => n + ("batch" in op ? op.batch.length : 0), 0);
        expect(aggregator.stats.accepted + aggregator.stats.late).toBe(total);
        expect(run.late.length).toBe(aggregator.stats.late);

        const latest = new Map<string, WindowResult>();
        for (const { result } of run.emissions) latest.set(`${result.key}:${result.start}`, result);
        const expected = referenceWindows(run.accepted, windows.size, windows.slide, allowedLatenessMs);
        expect([...latest.keys()].sort()).toEqual([...expected.keys()].sort());
        for (const [id, want] of expected) {
          const got = latest.get(id)!;
          expect(got.end - got.start).toBe(windows.size);
          expect(got.count).toBe(want.count);
          expect(got.volume).toBe(want.volume);
          expect(relativeError(got.vwap, want.valueWeight / want.volume)).toBeLessThan(1e-9);
          expect([got.open, got.high, got.low, got.close]).toEqual([
            want.open,
            want.high,
            want.low,
            want.close,
          ]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("fires a window once the watermark reaches its end, never before, and re-fires only within the lateness", () => {
    fc.assert(
      fc.property(assigner, lateness, ops, (windows, allowedLatenessMs, generated) => {
        const { run } = driveFresh(windows, allowedLatenessMs, ordered(generated));
        const revisions = new Map<string, number>();
        for (const { result, watermark, previous } of run.emissions) {
          const id = `${result.key}:${result.start}`;
          expect(result.end).toBeLessThanOrEqual(watermark);
          if (result.revision === 0) {
            expect(result.end).toBeGreaterThan(previous);
            expect(revisions.has(id)).toBe(false);
          } else {
            expect(result.end + allowedLatenessMs).toBeGreaterThan(watermark);
            expect(result.revision).toBe((revisions.get(id) ?? 0) + 1);
          }
          revisions.set(id, result.revision);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("sends an element to the side output exactly when every window containing it is past the lateness", () => {
    fc.assert(
      fc.property(assigner, lateness, ops, (windows, allowedLatenessMs, generated) => {
        const { run } = driveFresh(windows, allowedLatenessMs, ordered(generated));
        const lastEnd = (ts: number) => Math.floor(ts / windows.slide) * windows.slide + windows.size;
        for (const { element, watermark } of run.late) {
          expect(lastEnd(element.ts) + allowedLatenessMs).toBeLessThanOrEqual(watermark);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("re-fires a window with an updated result for a late element within the lateness", () => {
    const results: WindowResult[] = [];
    const late: number[] = [];
    const aggregator = new WindowAggregator({
      windows: tumbling(1_000),
      allowedLatenessMs: 500,
      onResult: (r) => results.push(r),
      onLate: (b, i) => late.push(b.ts[i]!),
    });
    aggregator.processBatch(batchOf([{ key: 1, ts: 100, value: 10, weight: 1 }]));
    aggregator.advanceWatermark(999);
    expect(results).toEqual([]);
    aggregator.advanceWatermark(1_000);
    expect(results).toMatchObject([{ key: 1, start: 0, end: 1_000, count: 1, vwap: 10, revision: 0 }]);

    // At the end exactly the window has fired, so an element for it is late and re-fires it.
    aggregator.processBatch(batchOf([{ key: 1, ts: 999, value: 12, weight: 1 }]));
    expect(results[1]).toMatchObject({ start: 0, count: 2, close: 12, revision: 1 });

    aggregator.advanceWatermark(1_400);
    aggregator.processBatch(batchOf([{ key: 1, ts: 50, value: 20, weight: 2 }]));
    expect(results[2]).toMatchObject({
      start: 0,
      count: 3,
      volume: 4,
      vwap: 15.5,
      open: 20,
      close: 12,
      revision: 2,
    });

    aggregator.advanceWatermark(1_500);
    aggregator.processBatch(batchOf([{ key: 1, ts: 60, value: 30, weight: 1 }]));
    expect(results).toHaveLength(3);
    expect(late).toEqual([60]);
    expect(aggregator.stats).toEqual({ accepted: 3, late: 1, fired: 1, refired: 2 });
  });

  it("keeps state bounded: panes past the lateness are purged", () => {
    const aggregator = new WindowAggregator({
      windows: hopping(1_000, 250),
      allowedLatenessMs: 1_000,
      onResult: () => {},
    });
    for (let t = 0; t < 100_000; t += 50) {
      aggregator.processBatch(batchOf([{ key: t % 7, ts: t, value: 1, weight: 1 }]));
      aggregator.advanceWatermark(t - 100);
    }
    expect(aggregator.livePanes).toBeLessThanOrEqual((1_000 + 1_000 + 100) / 250 + 2);
  });

  it("continues identically after a snapshot → JSON → restore at any point", () => {
    fc.assert(
      fc.property(assigner, lateness, ops, fc.nat(), (windows, allowedLatenessMs, generated, cut) => {
        const all = [...ordered(generated), { advance: Number.POSITIVE_INFINITY }];
        const straight = driveFresh(windows, allowedLatenessMs, all).run.emissions.map((e) => e.result);
        const at = cut % (all.length + 1);
        const first = driveFresh(windows, allowedLatenessMs, all.slice(0, at));
        const saved = JSON.parse(JSON.stringify(first.aggregator.snapshot()));
        const resumed: WindowResult[] = first.run.emissions.map((e) => e.result);
        const second = new WindowAggregator({ windows, allowedLatenessMs, onResult: (r) => resumed.push(r) });
        second.restore(saved);
        for (const op of all.slice(at)) {
          if ("batch" in op) second.processBatch(batchOf(op.batch));
          else second.advanceWatermark(op.advance);
        }
        expect(resumed).toEqual(straight);
      }),
      { numRuns: 200 },
    );
  });

  it("rejects a snapshot taken with other windows", () => {
    const a = new WindowAggregator({ windows: tumbling(1_000), onResult: () => {} });
    const b = new WindowAggregator({ windows: tumbling(2_000), onResult: () => {} });
    let error: unknown;
    try {
      b.restore(a.snapshot());
    } catch (e) {
      error = e;
    }
    expect(isStreamError(error) && error.code).toBe("BWK_ERR_STREAM_INVALID_SNAPSHOT");
  });

  it("sends elements with a non-finite timestamp to the side output", () => {
    const late: number[] = [];
    const aggregator = new WindowAggregator({
      windows: tumbling(10),
      onResult: () => {},
      onLate: (_b, i) => late.push(i),
    });
    aggregator.processBatch(
      batchOf([
        { key: 0, ts: Number.NaN, value: 1, weight: 1 },
        { key: 0, ts: 5, value: 1, weight: 1 },
      ]),
    );
    expect(late).toEqual([0]);
    expect(aggregator.stats.accepted).toBe(1);
  });
});

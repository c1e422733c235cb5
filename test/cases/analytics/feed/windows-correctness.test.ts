import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeTrades,
  encodeTrades,
  FeedGenerator,
  toEventBatch,
} from "../../../../src/cases/analytics/feed/index.ts";
import {
  hopping,
  KeyedWindowPipeline,
  partitionOf,
  planPartitions,
  tumbling,
  type WindowAssigner,
  type WindowResult,
} from "../../../../src/platform/stream/index.ts";
import { FakeClock } from "../../../../src/platform/time/index.ts";
import { type AcceptedElement, referenceWindows, relativeError } from "../../../platform/stream/reference.ts";

const PARTITIONS = 3;
const LATENESS_MS = 3_000;

interface Scenario {
  seed: number;
  windows: WindowAssigner;
  /** Frames (one per partition per feed batch), each maybe delivered twice. */
  frames: { partition: number; frame: Uint8Array; redeliver: boolean }[];
}

function scenario(seed: number, windows: WindowAssigner): Scenario {
  const feed = new FeedGenerator({
    seed,
    symbols: 40,
    rate: 4_000,
    disorder: {
      outOfOrderRate: 0.1,
      maxOutOfOrderMs: 400,
      lateRate: 0.02,
      lateDelayMs: [1_000, 8_000],
      duplicateRate: 0.02,
    },
    bursts: { perMinute: 12, durationMs: 1_000 },
  });
  const partitionOfKey = Int32Array.from(feed.instruments, (i) => partitionOf(i.symbol, PARTITIONS));
  const frames: Scenario["frames"] = [];
  let n = 0;
  while (n < 20_000) {
    const batch = feed.next(200 + ((n * 7919 + seed) % 1_500));
    n += batch.length;
    const { order, offsets } = planPartitions(batch.instrument, batch.length, partitionOfKey, PARTITIONS);
    for (let p = 0; p < PARTITIONS; p++) {
      if (offsets[p] === offsets[p + 1]) continue;
      frames.push({
        partition: p,
        frame: encodeTrades(batch, order, offsets[p]!, offsets[p + 1]!),
        redeliver: n % 11 === 0,
      });
    }
  }
  return { seed, windows, frames };
}

interface Outcome {
  results: WindowResult[];
  accepted: AcceptedElement[];
  pipeline: KeyedWindowPipeline;
}

function createPipeline(
  windows: WindowAssigner,
  results: WindowResult[],
  late: Set<number>,
): KeyedWindowPipeline {
  return new KeyedWindowPipeline({
    windows,
    outOfOrdernessMs: 400,
    allowedLatenessMs: LATENESS_MS,
    clock: new FakeClock(),
    indicators: { period: 5 },
    onResult: (r) => results.push(r),
    onLate: (_b, i) => late.add(i),
  });
}

/** Runs frames[from, to) through `pipeline`, recording accepted elements with the watermark they met. */
function run(
  pipeline: KeyedWindowPipeline,
  late: Set<number>,
  s: Scenario,
  from: number,
  to: number,
  accepted: AcceptedElement[],
) {
  for (const { partition, frame, redeliver } of s.frames.slice(from, to)) {
    for (let delivery = 0; delivery < (redeliver ? 2 : 1); delivery++) {
      const batch = toEventBatch(decodeTrades(frame), pipeline.keys);
      late.clear();
      const watermark = pipeline.aggregator.watermark;
      pipeline.processBatch(partition, batch);
      for (let i = 0; i < batch.length; i++) {
        if (late.has(i)) continue;
        accepted.push({
          key: batch.key[i]!,
          ts: batch.ts[i]!,
          value: batch.value[i]!,
          weight: batch.weight[i]!,
          watermark,
        });
      }
      pipeline.tick();
    }
  }
}

function straight(s: Scenario): Outcome {
  const results: WindowResult[] = [];
  const late = new Set<number>();
  const pipeline = createPipeline(s.windows, results, late);
  const accepted: AcceptedElement[] = [];
  run(pipeline, late, s, 0, s.frames.length, accepted);
  pipeline.advanceTo(Number.POSITIVE_INFINITY);
  return { results, accepted, pipeline };
}

function expectMatchesOffline(outcome: Outcome, windows: WindowAssigner) {
  const latest = new Map<string, WindowResult>();
  for (const r of outcome.results) latest.set(`${r.key}:${r.start}`, r);
  const expected = referenceWindows(outcome.accepted, windows.size, windows.slide, LATENESS_MS);
  expect(latest.size).toBe(expected.size);
  for (const [id, want] of expected) {
    const got = latest.get(id);
    expect(got, id).toBeDefined();
    expect(got!.count).toBe(want.count);
    expect(got!.volume).toBe(want.volume);
    expect(relativeError(got!.vwap, want.valueWeight / want.volume)).toBeLessThan(1e-9);
    expect([got!.open, got!.high, got!.low, got!.close]).toEqual([
      want.open,
      want.high,
      want.low,
      want.close,
    ]);
  }
}

describe("windows over a seeded feed with disorder, late data and duplicates", () => {
  const assigners = [tumbling(1_000), hopping(2_000, 500)];

  for (const windows of assigners) {
    it(`${windows.kind} ${windows.size}/${windows.slide} ms: final windows equal an offline computation over the accepted trades`, () => {
      const outcome = straight(scenario(11, windows));
      const { stats } = outcome.pipeline.aggregator;
      // The scenario really exercises every path: duplicates and redeliveries, re-firings, the side output.
      expect(outcome.pipeline.dedupe.duplicates).toBeGreaterThan(500);
      expect(stats.refired).toBeGreaterThan(50);
      expect(stats.late).toBeGreaterThan(50);
      expect(stats.accepted + stats.late + outcome.pipeline.dedupe.duplicates).toBeGreaterThan(20_000);
      expect(outcome.accepted).toHaveLength(stats.accepted);
      expectMatchesOffline(outcome, windows);
    });
  }

  it("gives identical results across a snapshot → JSON → restore at any point (a restart from a checkpoint)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000 }),
        fc.constantFrom(...assigners),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (seed, windows, where) => {
          const s = scenario(seed, windows);
          const reference = straight(s);
          const cut = Math.floor(where * s.frames.length);

          const results: WindowResult[] = [];
          const late = new Set<number>();
          const accepted: AcceptedElement[] = [];
          const before = createPipeline(windows, results, late);
          run(before, late, s, 0, cut, accepted);
          const checkpoint = JSON.stringify({ offset: cut, state: before.snapshot() });

          // The "restarted process": fresh operators, state and offset from the checkpoint.
          const { offset, state } = JSON.parse(checkpoint);
          const after = createPipeline(windows, results, late);
          after.restore(state);
          run(after, late, s, offset, s.frames.length, accepted);
          after.advanceTo(Number.POSITIVE_INFINITY);

          expect(results).toEqual(reference.results);
          expectMatchesOffline({ results, accepted, pipeline: after }, windows);
        },
      ),
      { numRuns: 5 },
    );
  });
});

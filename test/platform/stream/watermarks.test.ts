import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isStreamError, WatermarkTracker } from "../../../src/platform/stream/index.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";

const step = fc.oneof(
  fc.record({ input: fc.integer({ min: 0, max: 3 }), ts: fc.integer({ min: 0, max: 10_000 }) }),
  fc.record({ wait: fc.integer({ min: 0, max: 400 }) }),
);

describe("WatermarkTracker", () => {
  it("is monotonic, and equals max(previous, min over active inputs of maxSeen − B)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 500 }),
        fc.array(step, { maxLength: 60 }),
        async (bound, steps) => {
          const clock = new FakeClock();
          const tracker = new WatermarkTracker({ outOfOrdernessMs: bound, idleTimeoutMs: 1_000, clock });
          const maxSeen = new Map<number, number>();
          const lastActive = new Map<number, number>();
          let previous = Number.NEGATIVE_INFINITY;
          for (const s of steps) {
            if ("wait" in s) await clock.advance(s.wait);
            else {
              tracker.observe(s.input, s.ts);
              maxSeen.set(s.input, Math.max(maxSeen.get(s.input) ?? Number.NEGATIVE_INFINITY, s.ts));
              lastActive.set(s.input, clock.now());
            }
            const active = [...maxSeen].filter(([input]) => clock.now() - lastActive.get(input)! < 1_000);
            const candidate = active.length
              ? Math.min(...active.map(([, m]) => m - bound))
              : Number.NEGATIVE_INFINITY;
            const w = tracker.current();
            expect(w).toBeGreaterThanOrEqual(previous);
            expect(w).toBe(Math.max(previous, candidate));
            previous = w;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("holds the watermark back for a silent input until the idle timeout, then releases it", async () => {
    const clock = new FakeClock();
    const tracker = new WatermarkTracker({ outOfOrdernessMs: 100, idleTimeoutMs: 5_000, clock });
    tracker.addInput(0);
    tracker.addInput(1);
    tracker.observe(0, 10_000);
    expect(tracker.current()).toBe(Number.NEGATIVE_INFINITY);
    await clock.advance(4_999);
    tracker.observe(0, 12_000);
    expect(tracker.current()).toBe(Number.NEGATIVE_INFINITY);
    await clock.advance(1);
    expect(tracker.isIdle(1)).toBe(true);
    expect(tracker.current()).toBe(11_900);

    // The quiet input wakes up behind the watermark: it never moves it back.
    tracker.observe(1, 5_000);
    expect(tracker.isIdle(1)).toBe(false);
    expect(tracker.current()).toBe(11_900);
    tracker.observe(1, 13_000);
    expect(tracker.current()).toBe(11_900);
    tracker.observe(0, 14_000);
    expect(tracker.current()).toBe(12_900);
  });

  it("holds when every input is idle", async () => {
    const clock = new FakeClock();
    const tracker = new WatermarkTracker({ outOfOrdernessMs: 0, idleTimeoutMs: 100, clock });
    tracker.observe(0, 500);
    expect(tracker.current()).toBe(500);
    await clock.advance(1_000);
    expect(tracker.current()).toBe(500);
  });

  it("without an idle timeout, one silent input stalls the watermark forever", async () => {
    const clock = new FakeClock();
    const tracker = new WatermarkTracker({ outOfOrdernessMs: 0, clock });
    tracker.addInput(7);
    tracker.observe(0, 500);
    await clock.advance(3_600_000);
    expect(tracker.current()).toBe(Number.NEGATIVE_INFINITY);
    tracker.removeInput(7);
    expect(tracker.current()).toBe(500);
  });

  it("observes a batch in one pass and restores from a JSON snapshot", () => {
    const clock = new FakeClock();
    const tracker = new WatermarkTracker({ outOfOrdernessMs: 10, clock });
    tracker.observeBatch(0, Float64Array.of(5, 90, 30, 1_000), 3);
    tracker.observeBatch(1, Float64Array.of(70), 1);
    expect(tracker.current()).toBe(60);
    const copy = new WatermarkTracker({ outOfOrdernessMs: 10, clock });
    copy.restore(JSON.parse(JSON.stringify(tracker.snapshot())));
    expect(copy.current()).toBe(60);
    expect(copy.inputs.sort()).toEqual([0, 1]);
    copy.observe(1, 200);
    expect(copy.current()).toBe(80);
  });

  it("rejects a negative bound", () => {
    expect(() => new WatermarkTracker({ outOfOrdernessMs: -1, clock: new FakeClock() })).toThrow(
      expect.objectContaining({ code: "BWK_ERR_STREAM_INVALID_OPTION" }),
    );
    try {
      new WatermarkTracker({ outOfOrdernessMs: 0, idleTimeoutMs: 0, clock: new FakeClock() });
    } catch (e) {
      expect(isStreamError(e)).toBe(true);
    }
  });
});

import { describe, expect, it } from "vitest";
import {
  createEventBatch,
  type EventBatch,
  KeyedWindowPipeline,
  tumbling,
  type WindowResult,
} from "../../../src/platform/stream/index.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";

function batch(keys: number[], ts: number[], firstId: number): EventBatch {
  const b = createEventBatch(keys.length);
  keys.forEach((k, i) => {
    b.key[i] = k;
    b.ts[i] = ts[i]!;
    b.id![i] = firstId + i;
    b.value[i] = 10 + i;
    b.weight[i] = 1;
  });
  b.length = keys.length;
  return b;
}

describe("KeyedWindowPipeline", () => {
  it("an idle partition stops stalling windows once its timeout passes, with ticks driven by the clock", async () => {
    const clock = new FakeClock();
    const results: WindowResult[] = [];
    const pipeline = new KeyedWindowPipeline({
      windows: tumbling(1_000),
      outOfOrdernessMs: 100,
      idleTimeoutMs: 3_000,
      clock,
      onResult: (r) => results.push(r),
    });
    pipeline.watermarks.addInput(0);
    pipeline.watermarks.addInput(1);
    pipeline.startTicking(200);
    pipeline.processBatch(0, batch([1, 1, 2], [100, 500, 900], 1));
    await clock.advance(2_900);
    pipeline.processBatch(0, batch([1], [5_000], 10));
    expect(results).toEqual([]);
    await clock.advance(200);
    expect(results.map((r) => [r.key, r.start, r.count])).toEqual([
      [1, 0, 2],
      [2, 0, 1],
    ]);
    pipeline.stopTicking();
    expect(clock.pending).toBe(0);
  });

  it("counts a redelivered batch once", () => {
    const results: WindowResult[] = [];
    const pipeline = new KeyedWindowPipeline({
      windows: tumbling(1_000),
      outOfOrdernessMs: 0,
      clock: new FakeClock(),
      onResult: (r) => results.push(r),
    });
    pipeline.processBatch(0, batch([1, 1], [100, 200], 1));
    pipeline.processBatch(0, batch([1, 1], [100, 200], 1));
    pipeline.tick();
    pipeline.advanceTo(Number.POSITIVE_INFINITY);
    expect(results).toMatchObject([{ key: 1, count: 2 }]);
    expect(pipeline.dedupe.duplicates).toBe(2);
  });
});

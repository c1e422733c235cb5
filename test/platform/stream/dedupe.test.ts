import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createEventBatch,
  Dedupe,
  type EventBatch,
  expiryOf,
  tumbling,
} from "../../../src/platform/stream/index.ts";

function batchOf(items: readonly { id: number; ts: number }[]): EventBatch {
  const batch = createEventBatch(items.length);
  items.forEach((e, i) => {
    batch.id![i] = e.id;
    batch.ts[i] = e.ts;
    batch.key[i] = e.id % 7;
    batch.value[i] = e.id * 2;
    batch.weight[i] = i;
  });
  batch.length = items.length;
  return batch;
}

describe("Dedupe", () => {
  it("keeps the first occurrence of each id, in order, with its columns aligned", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(
            fc.integer({ min: 0, max: 2 ** 40 }).chain((id) => fc.constantFrom(id, id % 50)),
            { maxLength: 50 },
          ),
          { maxLength: 10 },
        ),
        (batches) => {
          const dedupe = new Dedupe({ windows: tumbling(1_000), initialCapacity: 1 });
          const seen = new Set<number>();
          let removed = 0;
          for (const ids of batches) {
            const batch = batchOf(ids.map((id) => ({ id, ts: 0 })));
            const expected = ids
              .map((id, i) => ({ id, i }))
              .filter(({ id }) => !seen.has(id) && seen.add(id));
            removed += dedupe.filter(batch);
            expect([...batch.id!.subarray(0, batch.length)]).toEqual(expected.map((e) => e.id));
            expect([...batch.weight.subarray(0, batch.length)]).toEqual(expected.map((e) => e.i));
            expect([...batch.key.subarray(0, batch.length)]).toEqual(expected.map((e) => e.id % 7));
          }
          expect(dedupe.duplicates).toBe(removed);
          expect(dedupe.size).toBe(seen.size);
        },
      ),
    );
  });

  it("forgets ids once their windows are purged, so memory stays bounded on an endless stream", () => {
    const dedupe = new Dedupe({ windows: tumbling(1_000), allowedLatenessMs: 500 });
    let peak = 0;
    for (let t = 0; t < 200_000; t += 100) {
      const items = Array.from({ length: 100 }, (_, i) => ({ id: t * 100 + i, ts: t }));
      expect(dedupe.filter(batchOf(items))).toBe(0);
      dedupe.expire(t - 200);
      peak = Math.max(peak, dedupe.size);
    }
    // Live ids span one window + lateness + the watermark lag: about 1,700 ms of 1,000 ids per 100 ms;
    // lazy sweeping lets expired ids linger until they are half the table. 2M ids went through.
    expect(peak).toBeLessThanOrEqual(2 * 19_000);
    dedupe.expire(1_500);
    expect(dedupe.add(5, 0)).toBe(true);
  });

  it("still recognises an id while its window can change, also after a snapshot → JSON → restore", () => {
    const dedupe = new Dedupe({ windows: tumbling(1_000), allowedLatenessMs: 500 });
    expect(dedupe.add(42, 900)).toBe(true);
    expect(dedupe.add(43, 100)).toBe(true);
    dedupe.expire(1_499);
    const restored = new Dedupe({ windows: tumbling(1_000), allowedLatenessMs: 500 });
    restored.restore(JSON.parse(JSON.stringify(dedupe.snapshot())));
    expect(restored.add(42, 900)).toBe(false);
    expect(restored.duplicates).toBe(1);
    restored.expire(1_500);
    expect(restored.snapshot()).toEqual({ groups: "" });
  });

  it("round-trips any safe-integer or fractional ids and expiries through snapshot → JSON → restore", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            id: fc.oneof(
              fc.integer({ min: 0, max: 10_000 }),
              fc.constantFrom(0, 2 ** 53 - 1, -(2 ** 53 - 1), -1, 0.5),
              fc.double({ noNaN: true, noDefaultInfinity: true }),
            ),
            ts: fc.integer({ min: 0, max: 20_000 }),
          }),
          { maxLength: 300 },
        ),
        (items) => {
          const dedupe = new Dedupe({ windows: tumbling(1_000), allowedLatenessMs: 500, initialCapacity: 1 });
          const added = items.filter(({ id, ts }) => dedupe.add(id, ts));
          const restored = new Dedupe({ windows: tumbling(1_000), allowedLatenessMs: 500 });
          restored.restore(JSON.parse(JSON.stringify(dedupe.snapshot())));
          expect(restored.size).toBe(added.length);
          for (const { id, ts } of added) expect(restored.add(id, ts)).toBe(false);
          // Each id kept its own expiry: past the first window's purge point only later windows' ids remain.
          restored.expire(1_500);
          const later = added.filter(({ ts }) => ts >= 1_000);
          const again = new Dedupe({ windows: tumbling(1_000), allowedLatenessMs: 500 });
          again.restore(JSON.parse(JSON.stringify(restored.snapshot())));
          expect(again.size).toBe(later.length);
        },
      ),
    );
  });

  it("restores the float64 columns of session-2 checkpoints", () => {
    const column = (values: number[]) => Buffer.from(new Float64Array(values).buffer).toString("base64");
    const restored = new Dedupe({ windows: tumbling(1_000), allowedLatenessMs: 500 });
    restored.restore({ ids: column([42, 2 ** 53 - 1]), expiries: column([1_500, 2_500]) });
    expect(restored.add(42, 900)).toBe(false);
    expect(restored.add(2 ** 53 - 1, 1_900)).toBe(false);
    expect(restored.add(7, 900)).toBe(true);
  });

  it("restores the plain-array snapshots older checkpoints hold, and refuses mismatched columns", () => {
    const restored = new Dedupe({ windows: tumbling(1_000), allowedLatenessMs: 500 });
    restored.restore({ ids: [42, 2 ** 53 - 1], expiries: [1_500, 1_500] });
    expect(restored.add(42, 900)).toBe(false);
    expect(restored.add(2 ** 53 - 1, 900)).toBe(false);
    expect(restored.add(7, 900)).toBe(true);
    expect(() => restored.restore({ ids: [1, 2], expiries: [3] })).toThrow(/differ in length/);
  });

  it("recognises every id while its window can change, whatever mix of chunked and hashed ids, across restores", () => {
    // Ids counting up (the chunked path) with repeats, older ids, a few far outliers, negatives and fractions
    // (the hash path); time stamps mostly advancing, some late, some spread so a chunk runs out of layers.
    const id = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 40 }).map((d) => ({ kind: "next", d })) },
      { weight: 2, arbitrary: fc.integer({ min: 0, max: 30 }).map((d) => ({ kind: "back", d })) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(-3, 0.5, 2 ** 53 - 1, 9_000_000).map((v) => ({ kind: "fixed", d: v })),
      },
    );
    const step = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.record({
          op: fc.constant("add" as const),
          id,
          dt: fc.integer({ min: -3_000, max: 400 }),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({ op: fc.constant("expire" as const), by: fc.integer({ min: 0, max: 1_500 }) }),
      },
      { weight: 1, arbitrary: fc.constant({ op: "restore" as const }) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.array(step, { maxLength: 400 }), (base, steps) => {
        const windows = tumbling(1_000);
        const options = { windows, allowedLatenessMs: 500, initialCapacity: 1 };
        let dedupe = new Dedupe(options);
        const accepted = new Map<number, number>(); // id → expiry of the copy that was let through
        const ids: number[] = [];
        let top = base;
        let now = 10_000;
        let watermark = Number.NEGATIVE_INFINITY;
        for (const s of steps) {
          if (s.op === "expire") {
            watermark = Math.max(watermark, now - s.by);
            dedupe.expire(watermark);
          } else if (s.op === "restore") {
            const next = new Dedupe(options);
            next.restore(JSON.parse(JSON.stringify(dedupe.snapshot())));
            next.expire(watermark);
            dedupe = next;
          } else {
            const { kind, d } = s.id;
            if (kind === "next") top += d;
            const value = kind === "next" ? top : kind === "back" ? (ids[ids.length - 1 - d] ?? top) : d;
            ids.push(value);
            now = Math.max(now, now + s.dt);
            const ts = now + Math.min(s.dt, 0);
            const expiry = expiryOf(windows, ts, 500);
            const added = dedupe.add(value, ts);
            const before = accepted.get(value);
            if (before === undefined) expect(added).toBe(true);
            else if (before > watermark) expect(added).toBe(false);
            if (added) accepted.set(value, expiry);
          }
        }
        const live = [...accepted.values()].filter((e) => e > watermark).length;
        expect(dedupe.size).toBeGreaterThanOrEqual(live);
        expect(dedupe.size).toBeLessThanOrEqual(accepted.size);
      }),
      { numRuns: 300 },
    );
  });

  it("holds ids counting up as bits: a snapshot of 100k of them is about 1.4 bytes an id", () => {
    const dedupe = new Dedupe({ windows: tumbling(1_000), allowedLatenessMs: 500 });
    for (let i = 0; i < 100_000; i++) expect(dedupe.add(1_000_000 + i, i / 10)).toBe(true);
    expect(dedupe.add(1_000_000 + 5, 0)).toBe(false);
    const snapshot = dedupe.snapshot();
    expect(snapshot.groups).toBe("");
    const bytes = Buffer.from(snapshot.chunks!, "base64").byteLength;
    expect(bytes / 100_000).toBeLessThan(1.5);
    const restored = new Dedupe({ windows: tumbling(1_000), allowedLatenessMs: 500 });
    restored.restore(JSON.parse(JSON.stringify(snapshot)));
    expect(restored.size).toBe(100_000);
    expect(restored.add(1_000_000 + 99_999, 9_999.9)).toBe(false);
    expect(restored.add(1_100_000, 9_999.9)).toBe(true);
    // The first window's layers go once the watermark passes its purge point (end 1,000 + lateness 500).
    restored.expire(1_500);
    expect(restored.size).toBeLessThan(100_000);
    expect(restored.size).toBeGreaterThanOrEqual(100_000 - 10_000 + 1);
  });

  it("refuses a chunk snapshot that is not whole layers", () => {
    const restored = new Dedupe({ windows: tumbling(1_000) });
    expect(() => restored.restore({ chunks: Buffer.alloc(100).toString("base64") })).toThrow(/whole layers/);
  });

  it("passes a batch without ids unchanged", () => {
    const dedupe = new Dedupe({ windows: tumbling(10) });
    const batch = createEventBatch(3, false);
    batch.length = 3;
    expect(dedupe.filter(batch)).toBe(0);
    expect(batch.length).toBe(3);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expiryOf, hopping, tumbling, windowStartsFor } from "../../../src/platform/stream/index.ts";

describe("window assigners", () => {
  it("assign exactly the windows [s, s + size) with s a multiple of slide that contain ts", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 49 }),
        fc.integer({ min: -10_000, max: 10_000 }),
        (slide, times, extra, ts) => {
          const size = slide * times + (times > 1 ? extra % slide : 0);
          const w = hopping(size, slide);
          const brute: number[] = [];
          for (let s = -Math.ceil(20_000 / slide) * slide; s <= 20_000; s += slide)
            if (s <= ts && ts < s + size) brute.push(s);
          expect(windowStartsFor(w, ts)).toEqual(brute);
          expect(size % w.pane).toBe(0);
          expect(slide % w.pane).toBe(0);
          expect(expiryOf(w, ts, 7)).toBe(Math.max(...brute) + size + 7);
        },
      ),
    );
  });

  it("tumbling windows partition time: one window per timestamp", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 0, max: 1e12 }), (size, ts) => {
        const starts = windowStartsFor(tumbling(size), ts);
        expect(starts).toHaveLength(1);
        expect(starts[0]! <= ts && ts < starts[0]! + size).toBe(true);
      }),
    );
  });

  it("reject sizes and slides that are not positive integers, or a slide above the size", () => {
    expect(() => tumbling(0)).toThrow(/window size/);
    expect(() => tumbling(1.5)).toThrow(/window size/);
    expect(() => hopping(10, 20)).toThrow(/window slide/);
    expect(hopping(10, 10).kind).toBe("tumbling");
  });
});

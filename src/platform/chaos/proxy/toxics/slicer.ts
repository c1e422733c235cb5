import { Type } from "@sinclair/typebox";
import { isChunk } from "../channel.ts";
import { pause, type ToxicKind } from "../toxic.ts";

/** Offsets that cut [start, end) into pieces of about `average` ± `variation` bytes, halving recursively. */
function cut(start: number, end: number, average: number, variation: number, random: () => number): number[] {
  if (end - start - average <= variation) return [end];
  const offset = variation > 0 ? Math.floor(random() * variation * 2) - variation : 0;
  const mid = start + Math.floor((end - start) / 2) + offset;
  return [...cut(start, mid, average, variation, random), ...cut(mid, end, average, variation, random)];
}

/** Fragments each chunk into slices of `average_size` ± `size_variation` bytes, `delay` µs apart. */
export const slicerToxic: ToxicKind = {
  type: "slicer",
  attributes: Type.Object({
    average_size: Type.Integer({ minimum: 1, default: 1 }),
    size_variation: Type.Integer({ minimum: 0, default: 0 }),
    delay: Type.Integer({ minimum: 0, default: 0 }),
  }),
  check({ average_size = 1, size_variation = 0 }) {
    return size_variation < average_size
      ? []
      : [{ field: "attributes.size_variation", message: "must be less than average_size" }];
  },
  async pipe({ average_size = 1, size_variation = 0, delay = 0 }, stub) {
    for (;;) {
      const item = await stub.input.take(stub.interrupt);
      if (item === undefined) return;
      if (!isChunk(item)) {
        stub.output.push(item);
        continue;
      }
      let from = 0;
      for (const to of cut(0, item.data.length, average_size, size_variation, stub.random)) {
        stub.output.push({ data: item.data.subarray(from, to), arrivedAt: item.arrivedAt });
        from = to;
        if (from < item.data.length && !(await pause(stub, delay / 1000))) {
          stub.input.unshift({ data: item.data.subarray(from), arrivedAt: item.arrivedAt });
          return;
        }
      }
    }
  },
};

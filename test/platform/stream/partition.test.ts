import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { partitionOf as busPartitionOf } from "../../../src/platform/messaging/index.ts";
import { gather, partitionOf, planPartitions } from "../../../src/platform/stream/index.ts";

describe("keyBy", () => {
  it("places a key in the same partition as the messaging bus does", () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 64 }), (key, partitions) => {
        expect(partitionOf(key, partitions)).toBe(busPartitionOf(key, partitions));
      }),
    );
  });

  it("groups element indices by partition, each index once, in input order within a partition", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 19 }), { maxLength: 200 }),
        (partitions, keyList) => {
          const partitionOfKey = Int32Array.from({ length: 20 }, (_, k) => partitionOf(`K${k}`, partitions));
          const keys = Int32Array.from(keyList);
          const { order, offsets } = planPartitions(keys, keys.length, partitionOfKey, partitions);
          expect([...order].sort((a, b) => a - b)).toEqual(keyList.map((_, i) => i));
          for (let p = 0; p < partitions; p++) {
            const slice = [...order.subarray(offsets[p]!, offsets[p + 1]!)];
            expect(slice).toEqual(
              keyList
                .map((k, i) => [k, i] as const)
                .filter(([k]) => partitionOfKey[k] === p)
                .map(([, i]) => i),
            );
            expect([...gather(keys, order, offsets[p]!, offsets[p + 1]!)]).toEqual(
              slice.map((i) => keyList[i]),
            );
          }
        },
      ),
    );
  });
});

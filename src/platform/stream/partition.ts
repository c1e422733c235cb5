import { invalidOption } from "./errors.ts";

export { partitionOf } from "../partitioning/index.ts";

/** Element indices grouped by partition: partition p owns `order[offsets[p] .. offsets[p+1])`, in input order. */
export interface PartitionPlan {
  order: Int32Array;
  offsets: Int32Array;
}

/**
 * keyBy for columnar batches: a stable counting sort of element indices by their key's partition.
 * `partitionOfKey[k]` is the partition of key id k (compute it once per key with {@link partitionOf}).
 * Callers gather whichever columns they carry with {@link gather}.
 */
export function planPartitions(
  keys: Int32Array,
  length: number,
  partitionOfKey: Int32Array,
  partitions: number,
): PartitionPlan {
  if (!Number.isInteger(partitions) || partitions < 1) throw invalidOption("partitions", partitions, "≥ 1");
  const offsets = new Int32Array(partitions + 1);
  for (let i = 0; i < length; i++) offsets[partitionOfKey[keys[i]!]! + 1]!++;
  for (let p = 0; p < partitions; p++) offsets[p + 1]! += offsets[p]!;
  const cursor = offsets.slice(0, partitions);
  const order = new Int32Array(length);
  for (let i = 0; i < length; i++) order[cursor[partitionOfKey[keys[i]!]!]!++] = i;
  return { order, offsets };
}

/** Copies `column[order[from..to)]` into a new array of the same type. */
export function gather<T extends Float64Array | Int32Array | Uint8Array | Uint16Array>(
  column: T,
  order: Int32Array,
  from: number,
  to: number,
): T {
  const out = new (column.constructor as new (n: number) => T)(to - from);
  for (let i = from; i < to; i++) out[i - from] = column[order[i]!]!;
  return out;
}

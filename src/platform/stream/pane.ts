import { COUNT, STRIDE } from "./accumulator.ts";

/** The state of one pane: an accumulator slot per key id, and the keys touched, in first-touch order. */
export interface Pane {
  /** `start / paneSize`. */
  index: number;
  start: number;
  acc: Float64Array;
  /** Key ids that fit in `acc` (and in `touched`, which therefore never overflows). */
  capacity: number;
  touched: Int32Array;
  touchedCount: number;
  /** End of the earliest window containing the pane: once the watermark reaches it, updates re-fire. */
  firstEnd: number;
  /** End of the latest window containing the pane plus the allowed lateness: the state's purge point. */
  expiry: number;
}

export function createPane(
  index: number,
  start: number,
  capacity: number,
  firstEnd: number,
  expiry: number,
): Pane {
  return {
    index,
    start,
    acc: new Float64Array(capacity * STRIDE),
    capacity,
    touched: new Int32Array(capacity),
    touchedCount: 0,
    firstEnd,
    expiry,
  };
}

/** Resets a purged pane for reuse, clearing only the slots it touched. */
export function recyclePane(
  pane: Pane,
  index: number,
  start: number,
  firstEnd: number,
  expiry: number,
): Pane {
  for (let j = 0; j < pane.touchedCount; j++) pane.acc[pane.touched[j]! * STRIDE + COUNT] = 0;
  pane.index = index;
  pane.start = start;
  pane.touchedCount = 0;
  pane.firstEnd = firstEnd;
  pane.expiry = expiry;
  return pane;
}

/** Makes room for key id `key`; returns the (possibly new) accumulator array. */
export function growPane(pane: Pane, key: number): Float64Array {
  const capacity = Math.max(key + 1, pane.capacity * 2);
  const acc = new Float64Array(capacity * STRIDE);
  acc.set(pane.acc);
  pane.acc = acc;
  const touched = new Int32Array(capacity);
  touched.set(pane.touched);
  pane.touched = touched;
  pane.capacity = capacity;
  return acc;
}

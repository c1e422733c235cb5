import type { Pane } from "./pane.ts";
import type { WindowResult } from "./types.ts";

/**
 * One key's running aggregate inside a pane, as `STRIDE` float64 slots of a shared array, so a pane
 * is one Float64Array indexed by `key * STRIDE` and the hot path never allocates.
 */
export const STRIDE = 9;
export const COUNT = 0;
export const VOLUME = 1;
/** Sum of value × weight, the VWAP numerator. */
export const VALUE_WEIGHT = 2;
export const OPEN = 3;
export const OPEN_TS = 4;
export const CLOSE = 5;
export const CLOSE_TS = 6;
export const HIGH = 7;
export const LOW = 8;

/**
 * Adds elements from `from` on to the pane's accumulators while their timestamps stay in the pane's
 * `[lo, hi)`, appending first-touched keys to `pane.touched`; returns the index where it stopped.
 * Open and close follow event time; on equal timestamps the earlier arrival opens and the later one
 * closes. The pane must already hold every key of the batch.
 */
export function accumulate(
  pane: Pane,
  keys: Int32Array,
  ts: Float64Array,
  values: Float64Array,
  weights: Float64Array,
  from: number,
  to: number,
  lo: number,
  hi: number,
): number {
  const acc = pane.acc;
  const touched = pane.touched;
  let touchedCount = pane.touchedCount;
  let i = from;
  for (; i < to; i++) {
    const t = ts[i]!;
    if (!(t >= lo && t < hi)) break;
    const k = keys[i]!;
    const b = k * STRIDE;
    const v = values[i]!;
    const w = weights[i]!;
    if (acc[b] === 0) {
      touched[touchedCount++] = k;
      acc[b] = 1;
      acc[b + VOLUME] = w;
      acc[b + VALUE_WEIGHT] = v * w;
      acc[b + OPEN] = v;
      acc[b + OPEN_TS] = t;
      acc[b + CLOSE] = v;
      acc[b + CLOSE_TS] = t;
      acc[b + HIGH] = v;
      acc[b + LOW] = v;
    } else {
      acc[b]!++;
      acc[b + VOLUME]! += w;
      acc[b + VALUE_WEIGHT]! += v * w;
      if (t < acc[b + OPEN_TS]!) {
        acc[b + OPEN] = v;
        acc[b + OPEN_TS] = t;
      }
      if (t >= acc[b + CLOSE_TS]!) {
        acc[b + CLOSE] = v;
        acc[b + CLOSE_TS] = t;
      }
      const high = acc[b + HIGH]!;
      acc[b + HIGH] = Math.max(v, high);
      const low = acc[b + LOW]!;
      acc[b + LOW] = Math.min(v, low);
    }
  }
  pane.touchedCount = touchedCount;
  return i;
}

/** Folds the aggregate at `src[s]` into `dst[d]`; an empty `dst` (count 0) becomes a copy. */
export function mergeAccumulator(dst: Float64Array, d: number, src: Float64Array, s: number): void {
  if (src[s + COUNT] === 0) return;
  if (dst[d + COUNT] === 0) {
    for (let j = 0; j < STRIDE; j++) dst[d + j] = src[s + j]!;
    return;
  }
  dst[d + COUNT]! += src[s + COUNT]!;
  dst[d + VOLUME]! += src[s + VOLUME]!;
  dst[d + VALUE_WEIGHT]! += src[s + VALUE_WEIGHT]!;
  // Distinct panes cover disjoint time ranges, so their open and close timestamps never tie.
  if (src[s + OPEN_TS]! < dst[d + OPEN_TS]!) {
    dst[d + OPEN] = src[s + OPEN]!;
    dst[d + OPEN_TS] = src[s + OPEN_TS]!;
  }
  if (src[s + CLOSE_TS]! > dst[d + CLOSE_TS]!) {
    dst[d + CLOSE] = src[s + CLOSE]!;
    dst[d + CLOSE_TS] = src[s + CLOSE_TS]!;
  }
  if (src[s + HIGH]! > dst[d + HIGH]!) dst[d + HIGH] = src[s + HIGH]!;
  if (src[s + LOW]! < dst[d + LOW]!) dst[d + LOW] = src[s + LOW]!;
}

export function toResult(
  acc: Float64Array,
  b: number,
  key: number,
  start: number,
  end: number,
  revision: number,
): WindowResult {
  const volume = acc[b + VOLUME]!;
  const close = acc[b + CLOSE]!;
  return {
    key,
    start,
    end,
    count: acc[b + COUNT]!,
    volume,
    vwap: volume > 0 ? acc[b + VALUE_WEIGHT]! / volume : close,
    open: acc[b + OPEN]!,
    high: acc[b + HIGH]!,
    low: acc[b + LOW]!,
    close,
    revision,
  };
}

import { invalidOption } from "./errors.ts";

/**
 * Event-time windows aligned to the epoch: `[start, start + size)` with starts every `slide`.
 * Tumbling windows have `slide === size`. State is kept per pane (the gcd of size and slide), and a
 * window is the merge of its `size / pane` panes, so each element is added once whatever the overlap.
 */
export interface WindowAssigner {
  readonly kind: "tumbling" | "hopping";
  readonly size: number;
  readonly slide: number;
  readonly pane: number;
}

export function tumbling(sizeMs: number): WindowAssigner {
  assertPositiveInteger("window size", sizeMs);
  return { kind: "tumbling", size: sizeMs, slide: sizeMs, pane: sizeMs };
}

export function hopping(sizeMs: number, slideMs: number): WindowAssigner {
  assertPositiveInteger("window size", sizeMs);
  assertPositiveInteger("window slide", slideMs);
  if (slideMs > sizeMs) throw invalidOption("window slide", slideMs, `≤ the size ${sizeMs}`);
  return {
    kind: slideMs === sizeMs ? "tumbling" : "hopping",
    size: sizeMs,
    slide: slideMs,
    pane: gcd(sizeMs, slideMs),
  };
}

/** Starts of every window that contains `ts`, ascending. */
export function windowStartsFor(w: WindowAssigner, ts: number): number[] {
  const starts: number[] = [];
  const last = lastWindowStart(w, ts);
  for (let s = last - Math.ceil(w.size / w.slide - 1) * w.slide; s <= last; s += w.slide) {
    if (s <= ts && ts < s + w.size) starts.push(s);
  }
  return starts;
}

/** Start of the latest window containing `ts`. */
export function lastWindowStart(w: WindowAssigner, ts: number): number {
  return Math.floor(ts / w.slide) * w.slide;
}

/**
 * The watermark at which the last window containing `ts` is purged: its end plus the allowed lateness.
 * An element whose `expiry <= watermark` can no longer change any window.
 */
export function expiryOf(w: WindowAssigner, ts: number, allowedLatenessMs: number): number {
  return lastWindowStart(w, ts) + w.size + allowedLatenessMs;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) throw invalidOption(name, value, "a positive integer of ms");
}

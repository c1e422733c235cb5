/**
 * An independent, naive offline window computation (string-keyed maps, brute-force window search),
 * the oracle the stream operators are checked against.
 */
export interface Element {
  key: number;
  ts: number;
  value: number;
  weight: number;
}

/** An element the operator accepted, with the watermark when it arrived: windows purged by then miss it. */
export interface AcceptedElement extends Element {
  watermark: number;
}

export interface ReferenceWindow {
  count: number;
  volume: number;
  valueWeight: number;
  open: number;
  openTs: number;
  close: number;
  closeTs: number;
  high: number;
  low: number;
}

/**
 * Windows keyed "key:start", from accepted elements in the order the operator saw them. A window whose
 * end plus the lateness the watermark had passed when an element arrived does not get it (Flink: late
 * for that window, though the element still counts in the later windows that cover it).
 */
export function referenceWindows(
  elements: readonly AcceptedElement[],
  size: number,
  slide: number,
  allowedLatenessMs: number,
): Map<string, ReferenceWindow> {
  const out = new Map<string, ReferenceWindow>();
  for (const e of elements) {
    // Brute force: every multiple of slide within size before ts.
    for (let start = Math.floor((e.ts - size) / slide) * slide; start <= e.ts; start += slide) {
      if (!(start <= e.ts && e.ts < start + size)) continue;
      if (start + size + allowedLatenessMs <= e.watermark) continue;
      const id = `${e.key}:${start}`;
      const w = out.get(id);
      if (!w) {
        out.set(id, {
          count: 1,
          volume: e.weight,
          valueWeight: e.value * e.weight,
          open: e.value,
          openTs: e.ts,
          close: e.value,
          closeTs: e.ts,
          high: e.value,
          low: e.value,
        });
        continue;
      }
      w.count++;
      w.volume += e.weight;
      w.valueWeight += e.value * e.weight;
      if (e.ts < w.openTs) {
        w.open = e.value;
        w.openTs = e.ts;
      }
      if (e.ts >= w.closeTs) {
        w.close = e.value;
        w.closeTs = e.ts;
      }
      w.high = Math.max(w.high, e.value);
      w.low = Math.min(w.low, e.value);
    }
  }
  return out;
}

export function relativeError(a: number, b: number): number {
  if (a === b) return 0;
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
}

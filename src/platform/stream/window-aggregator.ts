import { accumulate, COUNT, mergeAccumulator, STRIDE, toResult } from "./accumulator.ts";
import { invalidOption, StreamError } from "./errors.ts";
import { createPane, growPane, type Pane, recyclePane } from "./pane.ts";
import {
  type Checkpointable,
  type EventBatch,
  type LateSink,
  type Watermark,
  type WindowResult,
  watermarkFromJson,
  watermarkToJson,
} from "./types.ts";
import { lastWindowStart, type WindowAssigner, windowStartsFor } from "./windows.ts";

export interface WindowAggregatorOptions {
  windows: WindowAssigner;
  /** How long after a window's end (in event time) late elements still update it. Default 0. */
  allowedLatenessMs?: number;
  /** Every firing and every late re-firing. Upsert by (key, start): a re-firing replaces the result. */
  onResult: (result: WindowResult) => void;
  /** Elements too late for every window they belong to. They are always counted in `stats.late`. */
  onLate?: LateSink;
  /** Key ids each pane holds before growing. Default 64. */
  initialKeyCapacity?: number;
}

export interface WindowAggregatorStats {
  /** Elements added to window state. */
  accepted: number;
  /** Elements beyond the allowed lateness (or with a non-finite timestamp), sent to the side output. */
  late: number;
  /** Results emitted on time, and re-emitted because of late elements. */
  fired: number;
  refired: number;
}

export interface WindowAggregatorSnapshot {
  size: number;
  slide: number;
  allowedLatenessMs: number;
  /** null stands for no watermark yet (−∞), which JSON cannot carry. */
  watermark: number | null;
  stats: WindowAggregatorStats;
  /** Per pane: its index, its keys in first-touch order, and their accumulators (STRIDE numbers each). */
  panes: { index: number; keys: number[]; acc: number[] }[];
  /** [window start, key, revision] of windows re-fired at least once. */
  revisions: [number, number, number][];
}

/**
 * Keyed event-time window aggregation (count, volume, VWAP, OHLC) over columnar batches.
 *
 * Elements go into per-pane accumulators; a window fires once the watermark reaches its end, and its
 * state lives until the end plus the allowed lateness. A late element within that lateness updates the
 * window and re-fires it (at the end of its batch, once per window and key). An element too late for
 * every window goes to the side output and is counted, never dropped silently.
 */
export class WindowAggregator implements Checkpointable<WindowAggregatorSnapshot> {
  readonly windows: WindowAssigner;
  readonly allowedLatenessMs: number;
  #onResult: (result: WindowResult) => void;
  #onLate: LateSink | undefined;
  #initialCapacity: number;
  #panes = new Map<number, Pane>();
  #free: Pane[] = [];
  #watermark: Watermark = Number.NEGATIVE_INFINITY;
  #revisions = new Map<string, number>();
  #dirty: number[] = [];
  #stats: WindowAggregatorStats = { accepted: 0, late: 0, fired: 0, refired: 0 };
  #scratch = new Float64Array(STRIDE * 64);

  constructor(options: WindowAggregatorOptions) {
    const lateness = options.allowedLatenessMs ?? 0;
    if (!(lateness >= 0) || !Number.isFinite(lateness)) {
      throw invalidOption("allowedLatenessMs", lateness, "a finite number ≥ 0");
    }
    this.windows = options.windows;
    this.allowedLatenessMs = lateness;
    this.#onResult = options.onResult;
    this.#onLate = options.onLate;
    this.#initialCapacity = Math.max(1, options.initialKeyCapacity ?? 64);
  }

  get watermark(): Watermark {
    return this.#watermark;
  }

  get stats(): Readonly<WindowAggregatorStats> {
    return this.#stats;
  }

  /** Panes holding state: bounded by (size + lateness + out-of-orderness) / pane, whatever the input length. */
  get livePanes(): number {
    return this.#panes.size;
  }

  processBatch(batch: EventBatch): void {
    const n = batch.length;
    const { key: keys, ts, value: values, weight: weights } = batch;
    const paneSize = this.windows.pane;
    const watermark = this.#watermark;
    let maxKey = -1;
    for (let i = 0; i < n; i++) if (keys[i]! > maxKey) maxKey = keys[i]!;
    let accepted = 0;
    let i = 0;
    while (i < n) {
      const t = ts[i]!;
      if (!Number.isFinite(t)) {
        this.#sendLate(batch, i++);
        continue;
      }
      // A run of consecutive elements in one pane goes through the tight loop in one call.
      const index = Math.floor(t / paneSize);
      const lo = index * paneSize;
      const pane = this.#paneFor(index, lo, watermark);
      if (pane === undefined) {
        do this.#sendLate(batch, i++);
        while (i < n && ts[i]! >= lo && ts[i]! < lo + paneSize);
        continue;
      }
      if (maxKey >= pane.capacity) growPane(pane, maxKey);
      const j = accumulate(pane, keys, ts, values, weights, i, n, lo, lo + paneSize);
      accepted += j - i;
      if (pane.firstEnd <= watermark) for (let x = i; x < j; x++) this.#dirty.push(index, keys[x]!);
      i = j;
    }
    this.#stats.accepted += accepted;
    if (this.#dirty.length > 0) this.#refireDirty();
  }

  /**
   * Moves event time to `watermark`: fires every window whose end it reached, in order of end, then
   * purges state past the allowed lateness. A watermark that does not move forward is ignored.
   */
  advanceWatermark(watermark: Watermark): void {
    const previous = this.#watermark;
    if (!(watermark > previous)) return;
    this.#watermark = watermark;
    const { size } = this.windows;
    const due = new Set<number>();
    for (const pane of this.#panes.values()) {
      if (pane.firstEnd > watermark) continue;
      for (const start of windowStartsFor(this.windows, pane.start)) {
        const end = start + size;
        if (end > previous && end <= watermark) due.add(start);
      }
    }
    for (const start of [...due].sort((a, b) => a - b)) this.#fire(start, 0);
    this.#purge(watermark);
  }

  snapshot(): WindowAggregatorSnapshot {
    const panes = [...this.#panes.values()]
      .sort((a, b) => a.index - b.index)
      .map((pane) => {
        const keys = Array.from(pane.touched.subarray(0, pane.touchedCount));
        const acc: number[] = [];
        for (const k of keys) for (let j = 0; j < STRIDE; j++) acc.push(pane.acc[k * STRIDE + j]!);
        return { index: pane.index, keys, acc };
      });
    const revisions: [number, number, number][] = [];
    for (const [id, revision] of this.#revisions) {
      const [start, key] = id.split(":").map(Number) as [number, number];
      revisions.push([start, key, revision]);
    }
    return {
      size: this.windows.size,
      slide: this.windows.slide,
      allowedLatenessMs: this.allowedLatenessMs,
      watermark: watermarkToJson(this.#watermark),
      stats: { ...this.#stats },
      panes,
      revisions,
    };
  }

  restore(state: WindowAggregatorSnapshot): void {
    if (
      state.size !== this.windows.size ||
      state.slide !== this.windows.slide ||
      state.allowedLatenessMs !== this.allowedLatenessMs
    ) {
      throw new StreamError(
        "BWK_ERR_STREAM_INVALID_SNAPSHOT",
        `snapshot of windows ${state.size}/${state.slide} ms, lateness ${state.allowedLatenessMs} ms, ` +
          `does not fit windows ${this.windows.size}/${this.windows.slide} ms, lateness ${this.allowedLatenessMs} ms`,
      );
    }
    this.#watermark = watermarkFromJson(state.watermark);
    this.#stats = { ...state.stats };
    this.#panes.clear();
    this.#dirty = [];
    const paneSize = this.windows.pane;
    for (const saved of state.panes) {
      const start = saved.index * paneSize;
      const maxKey = saved.keys.reduce((m, k) => Math.max(m, k), -1);
      const pane = this.#newPane(saved.index, start, Math.max(this.#initialCapacity, maxKey + 1));
      saved.keys.forEach((k, i) => {
        pane.touched[pane.touchedCount++] = k;
        for (let j = 0; j < STRIDE; j++) pane.acc[k * STRIDE + j] = saved.acc[i * STRIDE + j]!;
      });
      this.#panes.set(saved.index, pane);
    }
    this.#revisions = new Map(state.revisions.map(([start, key, revision]) => [`${start}:${key}`, revision]));
  }

  /** The pane for `index`, created on first use; undefined when it is already past the allowed lateness. */
  #paneFor(index: number, start: number, watermark: Watermark): Pane | undefined {
    const pane = this.#panes.get(index);
    if (pane) return pane;
    const expiry = lastWindowStart(this.windows, start) + this.windows.size + this.allowedLatenessMs;
    if (expiry <= watermark) return undefined;
    const created = this.#newPane(index, start, this.#initialCapacity);
    this.#panes.set(index, created);
    return created;
  }

  #sendLate(batch: EventBatch, index: number): void {
    this.#stats.late++;
    this.#onLate?.(batch, index);
  }

  #newPane(index: number, start: number, capacity: number): Pane {
    const { size, slide } = this.windows;
    const firstEnd = Math.ceil((start + this.windows.pane - size) / slide) * slide + size;
    const expiry = lastWindowStart(this.windows, start) + size + this.allowedLatenessMs;
    const free = this.#free.pop();
    if (free) {
      const pane = recyclePane(free, index, start, firstEnd, expiry);
      if (pane.capacity < capacity) growPane(pane, capacity - 1);
      return pane;
    }
    return createPane(index, start, capacity, firstEnd, expiry);
  }

  /** Emits the window starting at `start` for every key it holds, or only for `onlyKey`. */
  #fire(start: number, revisionOf: number, onlyKey = -1): void {
    const { size, pane: paneSize } = this.windows;
    const end = start + size;
    const first = start / paneSize;
    const last = end / paneSize;
    if (last - first === 1) {
      const pane = this.#panes.get(first);
      if (!pane) return;
      if (onlyKey >= 0) {
        if (onlyKey < pane.capacity && pane.acc[onlyKey * STRIDE + COUNT]! > 0) {
          this.#emit(pane.acc, onlyKey * STRIDE, onlyKey, start, end, revisionOf);
        }
        return;
      }
      for (let j = 0; j < pane.touchedCount; j++) {
        const k = pane.touched[j]!;
        this.#emit(pane.acc, k * STRIDE, k, start, end, 0);
      }
      return;
    }
    const keys: number[] = [];
    let scratch: Float64Array = this.#scratch;
    for (let index = first; index < last; index++) {
      const pane = this.#panes.get(index);
      if (!pane) continue;
      for (let j = 0; j < pane.touchedCount; j++) {
        const k = pane.touched[j]!;
        if (onlyKey >= 0 && k !== onlyKey) continue;
        if ((k + 1) * STRIDE > scratch.length) {
          const grown = new Float64Array(Math.max((k + 1) * STRIDE, scratch.length * 2));
          grown.set(scratch);
          scratch = this.#scratch = grown;
        }
        if (scratch[k * STRIDE + COUNT] === 0) keys.push(k);
        mergeAccumulator(scratch, k * STRIDE, pane.acc, k * STRIDE);
      }
    }
    for (const k of keys) {
      this.#emit(scratch, k * STRIDE, k, start, end, onlyKey >= 0 ? revisionOf : 0);
      scratch[k * STRIDE + COUNT] = 0;
    }
  }

  #emit(acc: Float64Array, b: number, key: number, start: number, end: number, revision: number): void {
    if (revision === 0) this.#stats.fired++;
    else this.#stats.refired++;
    this.#onResult(toResult(acc, b, key, start, end, revision));
  }

  /** Re-fires, once per (window, key), the already-fired windows that late elements of this batch updated. */
  #refireDirty(): void {
    const dirty = this.#dirty;
    this.#dirty = [];
    const { size, pane: paneSize } = this.windows;
    const watermark = this.#watermark;
    const done = new Set<string>();
    for (let i = 0; i < dirty.length; i += 2) {
      const paneStart = dirty[i]! * paneSize;
      const key = dirty[i + 1]!;
      for (const start of windowStartsFor(this.windows, paneStart)) {
        const end = start + size;
        if (end > watermark || end + this.allowedLatenessMs <= watermark) continue;
        const id = `${start}:${key}`;
        if (done.has(id)) continue;
        done.add(id);
        const revision = (this.#revisions.get(id) ?? 0) + 1;
        this.#revisions.set(id, revision);
        this.#fire(start, revision, key);
      }
    }
  }

  #purge(watermark: Watermark): void {
    for (const [index, pane] of this.#panes) {
      if (pane.expiry <= watermark) {
        this.#panes.delete(index);
        this.#free.push(pane);
      }
    }
    if (this.#free.length > 4) this.#free.length = 4;
    const horizon = this.windows.size + this.allowedLatenessMs;
    for (const id of this.#revisions.keys()) {
      if (Number(id.slice(0, id.indexOf(":"))) + horizon <= watermark) this.#revisions.delete(id);
    }
  }
}

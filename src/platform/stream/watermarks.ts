import type { Clock } from "../time/index.ts";
import { invalidOption } from "./errors.ts";
import { type Checkpointable, type Watermark, watermarkFromJson, watermarkToJson } from "./types.ts";

export interface WatermarkTrackerOptions {
  /** B: how far behind the largest timestamp seen an element may still arrive on time, in ms. */
  outOfOrdernessMs: number;
  /**
   * An input with no element for this long (by the clock) is idle and no longer holds the watermark
   * back, like Flink's `withIdleness`; its next element makes it active again. Default: never idle.
   */
  idleTimeoutMs?: number;
  clock: Clock;
}

export interface WatermarkTrackerSnapshot {
  /** [input, largest timestamp seen]; inputs that saw nothing yet are absent. */
  inputs: [number, number][];
  watermark: number | null;
}

interface InputState {
  maxTs: number;
  lastActive: number;
}

/**
 * Bounded-out-of-orderness watermarks over several inputs (partitions): each input's watermark is
 * `maxSeenTs − B`, the combined watermark the minimum over the inputs that are not idle, and never
 * moves backwards. When every input is idle the watermark holds, as Flink's does.
 */
export class WatermarkTracker implements Checkpointable<WatermarkTrackerSnapshot> {
  readonly outOfOrdernessMs: number;
  readonly idleTimeoutMs: number;
  #clock: Clock;
  #inputs = new Map<number, InputState>();
  #watermark: Watermark = Number.NEGATIVE_INFINITY;

  constructor(options: WatermarkTrackerOptions) {
    if (!(options.outOfOrdernessMs >= 0)) {
      throw invalidOption("outOfOrdernessMs", options.outOfOrdernessMs, "a number ≥ 0");
    }
    const idle = options.idleTimeoutMs ?? Number.POSITIVE_INFINITY;
    if (!(idle > 0)) throw invalidOption("idleTimeoutMs", idle, "a number > 0");
    this.outOfOrdernessMs = options.outOfOrdernessMs;
    this.idleTimeoutMs = idle;
    this.#clock = options.clock;
  }

  /** Registers an input (e.g. a partition just assigned). It holds the watermark back until it sends or idles. */
  addInput(input: number): void {
    if (!this.#inputs.has(input)) {
      this.#inputs.set(input, { maxTs: Number.NEGATIVE_INFINITY, lastActive: this.#clock.monotonic() });
    }
  }

  /** Forgets an input (e.g. a partition revoked by a rebalance). */
  removeInput(input: number): void {
    this.#inputs.delete(input);
  }

  get inputs(): number[] {
    return [...this.#inputs.keys()];
  }

  /** Records one element's timestamp on `input`, registering the input on first use. */
  observe(input: number, ts: number): void {
    const state = this.#state(input);
    if (ts > state.maxTs) state.maxTs = ts;
    state.lastActive = this.#clock.monotonic();
  }

  /** Records `ts[0..length)` from one input; a batch costs one pass over its timestamps. */
  observeBatch(input: number, ts: Float64Array, length: number): void {
    const state = this.#state(input);
    let max = state.maxTs;
    for (let i = 0; i < length; i++) if (ts[i]! > max) max = ts[i]!;
    state.maxTs = max;
    if (length > 0) state.lastActive = this.#clock.monotonic();
  }

  /** Whether `input` has been silent for the idle timeout. */
  isIdle(input: number): boolean {
    const state = this.#inputs.get(input);
    return state !== undefined && this.#clock.monotonic() - state.lastActive >= this.idleTimeoutMs;
  }

  /** The combined watermark now: monotonic, the minimum over active inputs. */
  current(): Watermark {
    const now = this.#clock.monotonic();
    let min = Number.POSITIVE_INFINITY;
    for (const state of this.#inputs.values()) {
      if (now - state.lastActive >= this.idleTimeoutMs) continue;
      const w = state.maxTs - this.outOfOrdernessMs;
      if (w < min) min = w;
    }
    if (min !== Number.POSITIVE_INFINITY && min > this.#watermark) this.#watermark = min;
    return this.#watermark;
  }

  snapshot(): WatermarkTrackerSnapshot {
    const inputs: [number, number][] = [];
    for (const [input, state] of this.#inputs)
      if (Number.isFinite(state.maxTs)) inputs.push([input, state.maxTs]);
    return { inputs, watermark: watermarkToJson(this.#watermark) };
  }

  /** Restored inputs count as active from now: idleness restarts with the process. */
  restore(state: WatermarkTrackerSnapshot): void {
    const now = this.#clock.monotonic();
    this.#inputs = new Map(state.inputs.map(([input, maxTs]) => [input, { maxTs, lastActive: now }]));
    this.#watermark = watermarkFromJson(state.watermark);
  }

  #state(input: number): InputState {
    let state = this.#inputs.get(input);
    if (!state) {
      state = { maxTs: Number.NEGATIVE_INFINITY, lastActive: this.#clock.monotonic() };
      this.#inputs.set(input, state);
    }
    return state;
  }
}

import type { Clock, TimerHandle } from "../time/index.ts";
import { Dedupe, type DedupeSnapshot } from "./dedupe.ts";
import {
  type Anomaly,
  IndicatorOperator,
  type IndicatorOptions,
  type IndicatorSnapshot,
  type Indicators,
} from "./indicators.ts";
import { KeyInterner, type KeyInternerSnapshot } from "./key-interner.ts";
import type { Checkpointable, EventBatch, LateSink, Watermark, WindowResult } from "./types.ts";
import { WatermarkTracker, type WatermarkTrackerSnapshot } from "./watermarks.ts";
import { WindowAggregator, type WindowAggregatorSnapshot } from "./window-aggregator.ts";
import type { WindowAssigner } from "./windows.ts";

export interface KeyedWindowPipelineOptions {
  windows: WindowAssigner;
  outOfOrdernessMs: number;
  allowedLatenessMs?: number;
  idleTimeoutMs?: number;
  /** Ids the dedupe hash table holds before it grows (ids counting up are held as bits, not there). Default 4096. */
  dedupeCapacity?: number;
  clock: Clock;
  /** Moving averages and anomalies; omit to skip them. */
  indicators?: Omit<IndicatorOptions, "onIndicators" | "onAnomaly">;
  onResult: (result: WindowResult) => void;
  onLate?: LateSink;
  onIndicators?: (indicators: Indicators) => void;
  onAnomaly?: (anomaly: Anomaly) => void;
}

/** Everything a restart needs besides the source offsets, which the caller stores in the same checkpoint. */
export interface KeyedWindowPipelineSnapshot {
  keys: KeyInternerSnapshot;
  watermarks: WatermarkTrackerSnapshot;
  dedupe: DedupeSnapshot;
  windows: WindowAggregatorSnapshot;
  indicators: IndicatorSnapshot | null;
}

/**
 * The operators wired the way a keyed market-data processor uses them:
 * dedupe → per-input watermarks → window aggregation → moving averages and anomalies.
 * One instance is one checkpointed unit (e.g. one partition, or all partitions of one worker).
 */
export class KeyedWindowPipeline implements Checkpointable<KeyedWindowPipelineSnapshot> {
  readonly keys = new KeyInterner();
  readonly watermarks: WatermarkTracker;
  readonly dedupe: Dedupe;
  readonly aggregator: WindowAggregator;
  readonly indicators: IndicatorOperator | undefined;
  #clock: Clock;
  #ticker: TimerHandle | undefined;

  constructor(options: KeyedWindowPipelineOptions) {
    const lateness = options.allowedLatenessMs ?? 0;
    this.#clock = options.clock;
    this.watermarks = new WatermarkTracker({
      outOfOrdernessMs: options.outOfOrdernessMs,
      clock: options.clock,
      ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
    });
    this.dedupe = new Dedupe({
      windows: options.windows,
      allowedLatenessMs: lateness,
      ...(options.dedupeCapacity === undefined ? {} : { initialCapacity: options.dedupeCapacity }),
    });
    const indicators = options.indicators
      ? new IndicatorOperator({
          ...options.indicators,
          ...(options.onIndicators ? { onIndicators: options.onIndicators } : {}),
          ...(options.onAnomaly ? { onAnomaly: options.onAnomaly } : {}),
        })
      : undefined;
    this.indicators = indicators;
    const onResult = options.onResult;
    this.aggregator = new WindowAggregator({
      windows: options.windows,
      allowedLatenessMs: lateness,
      onResult: indicators
        ? (result) => {
            onResult(result);
            indicators.process(result);
          }
        : onResult,
      ...(options.onLate ? { onLate: options.onLate } : {}),
    });
  }

  /** Dedupes the batch in place, records its timestamps against `input`, and aggregates it. */
  processBatch(input: number, batch: EventBatch): void {
    this.dedupe.filter(batch);
    this.aggregator.processBatch(batch);
    this.watermarks.observeBatch(input, batch.ts, batch.length);
  }

  /**
   * Advances to the combined watermark (firing windows) and forgets expired ids. Call it after each
   * batch or from {@link startTicking}, so that idle inputs release the watermark without new data.
   */
  tick(): Watermark {
    return this.advanceTo(this.watermarks.current());
  }

  /** Forces the watermark, e.g. to +∞ at the end of a bounded input. */
  advanceTo(watermark: Watermark): Watermark {
    this.aggregator.advanceWatermark(watermark);
    this.dedupe.expire(this.aggregator.watermark);
    return this.aggregator.watermark;
  }

  /** Calls {@link tick} every `intervalMs` of the clock until {@link stopTicking}. */
  startTicking(intervalMs: number): void {
    this.stopTicking();
    const loop = () => {
      this.tick();
      this.#ticker = this.#clock.setTimeout(loop, intervalMs);
    };
    this.#ticker = this.#clock.setTimeout(loop, intervalMs);
  }

  stopTicking(): void {
    this.#ticker?.cancel();
    this.#ticker = undefined;
  }

  snapshot(): KeyedWindowPipelineSnapshot {
    return {
      keys: this.keys.snapshot(),
      watermarks: this.watermarks.snapshot(),
      dedupe: this.dedupe.snapshot(),
      windows: this.aggregator.snapshot(),
      indicators: this.indicators ? this.indicators.snapshot() : null,
    };
  }

  restore(state: KeyedWindowPipelineSnapshot): void {
    this.keys.restore(state.keys);
    this.watermarks.restore(state.watermarks);
    this.dedupe.restore(state.dedupe);
    this.aggregator.restore(state.windows);
    if (this.indicators && state.indicators) this.indicators.restore(state.indicators);
  }
}

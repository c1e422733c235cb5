import { invalidOption } from "./errors.ts";
import { ema, meanAndStd, sma } from "./stats.ts";
import type { Checkpointable, WindowResult } from "./types.ts";

export interface IndicatorOptions {
  /** N: moving averages and baselines span the last N windows of a key (windows with data). */
  period: number;
  /** Which aggregate the averages and returns follow. Default "vwap". */
  field?: "vwap" | "close";
  /** EMA smoothing. Default 2 / (N + 1). */
  emaAlpha?: number;
  /** |z| of the newest log return against the previous ones that flags an anomaly. Default 3. */
  zScoreThreshold?: number;
  /** A window's volume above this multiple of the previous windows' mean volume is a spike. Default 3. */
  volumeSpikeFactor?: number;
  /** Windows a key needs (the newest included) before anomalies are judged. Default min(N, 5). */
  minHistory?: number;
  onIndicators?: (indicators: Indicators) => void;
  onAnomaly?: (anomaly: Anomaly) => void;
}

/** Moving averages as of one window, over it and the windows before it in the key's history. */
export interface Indicators {
  key: number;
  start: number;
  end: number;
  sma: number;
  ema: number;
  /** Windows averaged (≤ N). */
  windows: number;
  revision: number;
}

/** An anomaly record; upsert by (key, start, kind): a re-fired window may confirm it again. */
export interface Anomaly {
  key: number;
  start: number;
  end: number;
  kind: "return-zscore" | "volume-spike";
  /** The z-score, or the volume ratio to the baseline. */
  score: number;
  threshold: number;
  value: number;
  volume: number;
  revision: number;
}

export interface IndicatorSnapshot {
  /** [key, window starts, values, volumes], oldest first. */
  keys: [number, number[], number[], number[]][];
}

interface History {
  starts: number[];
  values: number[];
  volumes: number[];
}

/**
 * Per-key moving averages (SMA, EMA) over the last N closed windows, and anomaly detection on them:
 * a return z-score beyond a threshold and volume spikes. Both are pure functions of the key's window
 * history, so a late re-firing that replaces a window's result recomputes them consistently, and a
 * restore from a snapshot reproduces them exactly.
 */
export class IndicatorOperator implements Checkpointable<IndicatorSnapshot> {
  readonly period: number;
  #field: "vwap" | "close";
  #alpha: number;
  #zThreshold: number;
  #spikeFactor: number;
  #minHistory: number;
  #onIndicators: ((indicators: Indicators) => void) | undefined;
  #onAnomaly: ((anomaly: Anomaly) => void) | undefined;
  #histories = new Map<number, History>();

  constructor(options: IndicatorOptions) {
    if (!Number.isInteger(options.period) || options.period < 2) {
      throw invalidOption("period", options.period, "an integer ≥ 2");
    }
    this.period = options.period;
    this.#field = options.field ?? "vwap";
    this.#alpha = options.emaAlpha ?? 2 / (options.period + 1);
    if (!(this.#alpha > 0 && this.#alpha <= 1)) throw invalidOption("emaAlpha", this.#alpha, "in (0, 1]");
    this.#zThreshold = options.zScoreThreshold ?? 3;
    this.#spikeFactor = options.volumeSpikeFactor ?? 3;
    this.#minHistory = Math.max(3, options.minHistory ?? Math.min(options.period, 5));
    this.#onIndicators = options.onIndicators;
    this.#onAnomaly = options.onAnomaly;
  }

  /** Feed every window result, in the order the window operator emits them. */
  process(result: WindowResult): void {
    const history = this.#historyOf(result.key);
    const at = this.#record(history, result);
    if (at < 0) return;
    const from = Math.max(0, at + 1 - this.period);
    const values = history.values.slice(from, at + 1);
    const volumes = history.volumes.slice(from, at + 1);
    this.#onIndicators?.({
      key: result.key,
      start: result.start,
      end: result.end,
      sma: sma(values),
      ema: ema(values, this.#alpha),
      windows: values.length,
      revision: result.revision,
    });
    if (this.#onAnomaly && values.length >= this.#minHistory) this.#detect(result, values, volumes);
  }

  snapshot(): IndicatorSnapshot {
    const keys: IndicatorSnapshot["keys"] = [];
    for (const [key, h] of this.#histories) keys.push([key, [...h.starts], [...h.values], [...h.volumes]]);
    return { keys };
  }

  restore(state: IndicatorSnapshot): void {
    this.#histories = new Map(
      state.keys.map(([key, starts, values, volumes]) => [
        key,
        { starts: [...starts], values: [...values], volumes: [...volumes] },
      ]),
    );
  }

  #historyOf(key: number): History {
    let history = this.#histories.get(key);
    if (!history) {
      history = { starts: [], values: [], volumes: [] };
      this.#histories.set(key, history);
    }
    return history;
  }

  /** Inserts or replaces the window in the sorted history; returns its index, or −1 if it is too old to keep. */
  #record(h: History, result: WindowResult): number {
    const value = this.#field === "vwap" ? result.vwap : result.close;
    let at = h.starts.length;
    while (at > 0 && h.starts[at - 1]! > result.start) at--;
    if (at > 0 && h.starts[at - 1] === result.start) {
      h.values[at - 1] = value;
      h.volumes[at - 1] = result.volume;
      return at - 1;
    }
    if (at === 0 && h.starts.length >= this.period) return -1;
    h.starts.splice(at, 0, result.start);
    h.values.splice(at, 0, value);
    h.volumes.splice(at, 0, result.volume);
    if (h.starts.length > this.period) {
      h.starts.shift();
      h.values.shift();
      h.volumes.shift();
      at--;
    }
    return at;
  }

  #detect(result: WindowResult, values: number[], volumes: number[]): void {
    const last = values.length - 1;
    const returns: number[] = [];
    for (let i = 1; i < values.length; i++) returns.push(Math.log(values[i]! / values[i - 1]!));
    const baseline = meanAndStd(returns.slice(0, -1));
    if (baseline.std > 0) {
      const z = (returns[returns.length - 1]! - baseline.mean) / baseline.std;
      if (Math.abs(z) > this.#zThreshold)
        this.#emit(result, "return-zscore", z, this.#zThreshold, values[last]!);
    }
    const volumeBaseline = sma(volumes.slice(0, -1));
    if (volumeBaseline > 0) {
      const ratio = volumes[last]! / volumeBaseline;
      if (ratio > this.#spikeFactor)
        this.#emit(result, "volume-spike", ratio, this.#spikeFactor, values[last]!);
    }
  }

  #emit(result: WindowResult, kind: Anomaly["kind"], score: number, threshold: number, value: number): void {
    this.#onAnomaly!({
      key: result.key,
      start: result.start,
      end: result.end,
      kind,
      score,
      threshold,
      value,
      volume: result.volume,
      revision: result.revision,
    });
  }
}

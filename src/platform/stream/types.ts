/**
 * The stream kernel: a trade-agnostic, columnar event-time model. An element is a key (an interned
 * id), an event timestamp, an optional id for dedupe, a value and a weight. For trades the value is
 * the price and the weight the size, so VWAP is the weighted mean and volume the sum of weights.
 *
 * Batches are columns, not objects, so the hot path touches typed arrays only and allocates nothing
 * per element. Columns may be longer than `length`, so a batch can be reused.
 */
export interface EventBatch {
  /** Elements in use, from index 0. */
  length: number;
  /** Dense key ids from a {@link KeyInterner}. */
  key: Int32Array;
  /** Event time, epoch milliseconds. */
  ts: Float64Array;
  /** Element ids (safe integers) for dedupe and tie-breaks; absent means arrival order breaks ties. */
  id: Float64Array | undefined;
  value: Float64Array;
  weight: Float64Array;
}

export function createEventBatch(capacity: number, withIds = true): EventBatch {
  return {
    length: 0,
    key: new Int32Array(capacity),
    ts: new Float64Array(capacity),
    id: withIds ? new Float64Array(capacity) : undefined,
    value: new Float64Array(capacity),
    weight: new Float64Array(capacity),
  };
}

/** Event-time watermark: no element with `ts < watermark` is expected any more. */
export type Watermark = number;

/** One window's aggregate for one key. */
export interface WindowResult {
  key: number;
  /** Inclusive start and exclusive end, epoch milliseconds. */
  start: number;
  end: number;
  count: number;
  /** Sum of weights. */
  volume: number;
  /** Weighted mean of values; the close when the volume is 0. */
  vwap: number;
  /** Value of the earliest element by event time (ties: smallest id), not the first to arrive. */
  open: number;
  high: number;
  low: number;
  /** Value of the latest element by event time (ties: largest id). */
  close: number;
  /** 0 on the firing when the watermark passes the end; +1 for each re-firing caused by late data. */
  revision: number;
}

/** Receives late elements beyond the allowed lateness: the batch and the element's index in it. */
export type LateSink = (batch: EventBatch, index: number) => void;

/** Every stateful operator: its state, as plain data, checkpoints together with source offsets. */
export interface Checkpointable<S> {
  snapshot(): S;
  restore(state: S): void;
}

/** A watermark as JSON can carry it: −∞ (nothing seen yet) becomes null, +∞ (end of input) the largest double. */
export function watermarkToJson(watermark: Watermark): number | null {
  if (watermark === Number.NEGATIVE_INFINITY) return null;
  return watermark === Number.POSITIVE_INFINITY ? Number.MAX_VALUE : watermark;
}

export function watermarkFromJson(value: number | null): Watermark {
  return value ?? Number.NEGATIVE_INFINITY;
}

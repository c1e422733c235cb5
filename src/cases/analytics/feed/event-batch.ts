import { createEventBatch, type EventBatch, type KeyInterner } from "../../../platform/stream/index.ts";
import type { TradeBatch } from "./trade.ts";

/**
 * Trades as stream elements keyed by symbol: value = price, weight = size, id = tradeId. Copies the
 * columns (operators compact batches in place, and decoded columns may alias the log frame), into
 * `into` when it is large enough.
 */
export function toEventBatch(trades: TradeBatch, keys: KeyInterner, into?: EventBatch): EventBatch {
  const n = trades.length;
  const batch = into && into.key.length >= n && into.id ? into : createEventBatch(n);
  const ids = keys.internAll(trades.instruments.map((i) => i.symbol));
  const key = batch.key;
  const instrument = trades.instrument;
  for (let i = 0; i < n; i++) key[i] = ids[instrument[i]!]!;
  batch.ts.set(trades.ts.subarray(0, n));
  batch.id!.set(trades.tradeId.subarray(0, n));
  batch.value.set(trades.price.subarray(0, n));
  batch.weight.set(trades.size.subarray(0, n));
  batch.length = n;
  return batch;
}

export type AssetClass = "equity" | "etf" | "crypto" | "fx";

export const ASSET_CLASSES: readonly AssetClass[] = ["equity", "etf", "crypto", "fx"];

/** What a symbol may look like on the wire (the feed's FX symbols end in `=X`, crypto pairs hold `-` or `/`). */
export const SYMBOL_PATTERN = "^[A-Za-z0-9._/:=-]+$";

/** One trade as APIs and NDJSON carry it. `ts` is event time (epoch ms); `tradeId` a safe integer. */
export interface Trade {
  tradeId: number;
  symbol: string;
  exchange: string;
  assetClass: AssetClass;
  price: number;
  size: number;
  ts: number;
}

/** What a symbol is: its primary listing is the exchange every trade of it reports, so shards agree. */
export interface Instrument {
  symbol: string;
  exchange: string;
  assetClass: AssetClass;
}

/**
 * Trades as columns. `instrument[i]` indexes `instruments`, a dictionary local to the batch, so a
 * batch carries each symbol's strings once however many trades it holds.
 */
export interface TradeBatch {
  length: number;
  instruments: readonly Instrument[];
  instrument: Int32Array;
  tradeId: Float64Array;
  price: Float64Array;
  size: Float64Array;
  ts: Float64Array;
}

export function createTradeBatch(capacity: number, instruments: readonly Instrument[]): TradeBatch {
  return {
    length: 0,
    instruments,
    instrument: new Int32Array(capacity),
    tradeId: new Float64Array(capacity),
    price: new Float64Array(capacity),
    size: new Float64Array(capacity),
    ts: new Float64Array(capacity),
  };
}

export function tradesOf(batch: TradeBatch): Trade[] {
  const trades: Trade[] = [];
  for (let i = 0; i < batch.length; i++) {
    const { symbol, exchange, assetClass } = batch.instruments[batch.instrument[i]!]!;
    trades.push({
      tradeId: batch.tradeId[i]!,
      symbol,
      exchange,
      assetClass,
      price: batch.price[i]!,
      size: batch.size[i]!,
      ts: batch.ts[i]!,
    });
  }
  return trades;
}

/** Builds a batch from trade objects, with a dictionary of the instruments they name. */
export function batchOf(trades: readonly Trade[]): TradeBatch {
  const index = new Map<string, number>();
  const instruments: Instrument[] = [];
  const batch = createTradeBatch(trades.length, instruments);
  trades.forEach((t, i) => {
    let at = index.get(t.symbol);
    if (at === undefined) {
      at = instruments.length;
      index.set(t.symbol, at);
      instruments.push({ symbol: t.symbol, exchange: t.exchange, assetClass: t.assetClass });
    }
    batch.instrument[i] = at;
    batch.tradeId[i] = t.tradeId;
    batch.price[i] = t.price;
    batch.size[i] = t.size;
    batch.ts[i] = t.ts;
  });
  batch.length = trades.length;
  return batch;
}

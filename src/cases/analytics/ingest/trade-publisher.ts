import type { Bus, PublishItem } from "../../../platform/messaging/index.ts";
import { partitionOf, planPartitions } from "../../../platform/stream/index.ts";
import { type Clock, systemClock } from "../../../platform/time/index.ts";
import { TOPICS, TradeFrame } from "../events.ts";
import { encodeTrades, type TradeBatch } from "../feed/index.ts";

export interface TradePublisherOptions {
  bus: Bus;
  /** Partitions of the trades topic. */
  partitions: number;
  clock?: Clock;
  /** Trades per frame at most: bounds a message's size (about 22 bytes a trade, 30 in base64). */
  maxFrameTrades?: number;
}

/**
 * Publishes trades to `analytics-trades` as frames: the batch is split by the partition of each trade's
 * symbol (the bus's own partitionOf), each partition's slice encoded as one binary columnar frame (or a few,
 * for a large slice), and all frames handed to the bus in one publishBatch. The ingest API, the live demo
 * feed and the benchmark all publish through it.
 */
export class TradePublisher {
  readonly #bus: Bus;
  readonly #partitions: number;
  readonly #clock: Clock;
  readonly #maxFrame: number;
  readonly #partitionOfSymbol = new Map<string, number>();

  constructor(options: TradePublisherOptions) {
    this.#bus = options.bus;
    this.#partitions = options.partitions;
    this.#clock = options.clock ?? systemClock;
    this.#maxFrame = options.maxFrameTrades ?? 16_384;
  }

  /** The frames for a batch, ready for publishBatch (the benchmark times encoding and publishing apart). */
  frames(batch: TradeBatch): PublishItem[] {
    if (batch.length === 0) return [];
    const byInstrument = new Int32Array(batch.instruments.length);
    batch.instruments.forEach((instrument, i) => {
      let p = this.#partitionOfSymbol.get(instrument.symbol);
      if (p === undefined) {
        p = partitionOf(instrument.symbol, this.#partitions);
        this.#partitionOfSymbol.set(instrument.symbol, p);
      }
      byInstrument[i] = p;
    });
    const plan = planPartitions(batch.instrument, batch.length, byInstrument, this.#partitions);
    const ingestedAt = this.#clock.now();
    const items: PublishItem[] = [];
    for (let p = 0; p < this.#partitions; p++) {
      const end = plan.offsets[p + 1]!;
      for (let from = plan.offsets[p]!; from < end; from += this.#maxFrame) {
        const to = Math.min(end, from + this.#maxFrame);
        const frame = encodeTrades(batch, plan.order, from, to);
        // Any symbol of the slice is a key that lands in partition p.
        const key = batch.instruments[batch.instrument[plan.order[from]!]!]!.symbol;
        items.push({
          topic: TOPICS.trades,
          key,
          event: TradeFrame.create({
            frame: Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString("base64"),
            count: to - from,
            ingestedAt,
          }),
        });
      }
    }
    return items;
  }

  /** Publishes the batch; resolves to the number of frames once the log acknowledged all of them. */
  async publish(batch: TradeBatch): Promise<number> {
    const items = this.frames(batch);
    if (items.length > 0) await this.#bus.publishBatch(items);
    return items.length;
  }
}

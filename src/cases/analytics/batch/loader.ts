import type { Logger } from "pino";
import type { Bus, Message, Subscription } from "../../../platform/messaging/index.ts";
import type { Clock } from "../../../platform/time/index.ts";
import { TOPICS, TradeFrame } from "../events.ts";
import { decodeTrades, type Trade, tradesOf } from "../feed/index.ts";
import { RAW_TABLE, type RawTrades } from "./raw-trades.ts";

/** Consumer group of batch mode's raw-trades loader. */
export const BATCH_LOADER_GROUP = "analytics-batch-loader";

/** The trades of one TradeFrame message; undefined when the message is not one. */
export function tradesOfMessage(message: Message): Trade[] | undefined {
  if (message.type !== TradeFrame.type) return undefined;
  const payload = message.payload as { frame?: unknown };
  if (typeof payload?.frame !== "string") return undefined;
  return tradesOf(decodeTrades(Buffer.from(payload.frame, "base64")));
}

export interface RawTradeLoaderOptions {
  bus: Bus;
  raw: RawTrades;
  clock: Clock;
  logger: Logger;
  group?: string;
  /** Where the rows go; a backfill loads a fresh table. */
  table?: string;
}

/** Batch mode's intake: every trade frame from `analytics-trades`, decoded and stored as raw rows. */
export class RawTradeLoader {
  readonly #o: RawTradeLoaderOptions;
  #subscription: Subscription | undefined;
  #loaded = 0;

  constructor(options: RawTradeLoaderOptions) {
    this.#o = options;
  }

  get loaded(): number {
    return this.#loaded;
  }

  start(): void {
    const { bus, raw, clock, logger } = this.#o;
    const table = this.#o.table ?? RAW_TABLE;
    this.#subscription = bus.subscribe({
      topic: TOPICS.trades,
      group: this.#o.group ?? BATCH_LOADER_GROUP,
      handler: async (message, delivery) => {
        let trades: Trade[] | undefined;
        try {
          trades = tradesOfMessage(message);
        } catch (err) {
          logger.warn({ err, offset: message.offset }, "undecodable trade frame");
        }
        if (!trades) {
          delivery.deadLetter("not a decodable TradeFrame");
          return;
        }
        await raw.insert(trades, clock.now(), table);
        this.#loaded += trades.length;
      },
    });
  }

  async stop(): Promise<void> {
    await this.#subscription?.stop();
    this.#subscription = undefined;
  }
}

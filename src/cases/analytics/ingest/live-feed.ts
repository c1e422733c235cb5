import type { Logger } from "pino";
import { type Clock, systemClock, type TimerHandle } from "../../../platform/time/index.ts";
import { FeedGenerator } from "../feed/index.ts";
import type { TradePublisher } from "./trade-publisher.ts";

export interface LiveFeedOptions {
  publisher: TradePublisher;
  rate: number;
  symbols: number;
  seed: number;
  clock?: Clock;
  logger?: Logger;
  /** How often the feed publishes what arrived since the last tick. Default 100 ms. */
  tickMs?: number;
}

/**
 * The demo market: the seeded generator run in real time, its event-time origin at start, publishing every
 * tick the trades whose arrival time has passed. `npm start` has data within a second or two.
 */
export class LiveFeed {
  readonly #o: LiveFeedOptions;
  readonly #clock: Clock;
  #timer: TimerHandle | undefined;
  #inFlight: Promise<void> = Promise.resolve();
  #stopped = false;
  published = 0;

  constructor(options: LiveFeedOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  start(): void {
    if (this.#o.rate <= 0 || this.#timer) return;
    const feed = new FeedGenerator({
      seed: this.#o.seed,
      symbols: this.#o.symbols,
      rate: this.#o.rate,
      startTs: this.#clock.now(),
    });
    const tickMs = this.#o.tickMs ?? 100;
    const batch = feed.createBatch(Math.max(1_024, Math.ceil(this.#o.rate * (tickMs / 1_000) * 8)));
    const tick = () => {
      if (this.#stopped) return;
      batch.length = 0;
      feed.fill(batch, this.#clock.now());
      this.#inFlight = (batch.length > 0 ? this.#o.publisher.publish(batch) : Promise.resolve(0))
        .then(() => {
          this.published += batch.length;
        })
        .catch((err: unknown) => this.#o.logger?.warn({ err }, "live feed publish failed; trades dropped"))
        .finally(() => {
          if (!this.#stopped) this.#timer = this.#clock.setTimeout(tick, tickMs);
        });
    };
    this.#timer = this.#clock.setTimeout(tick, tickMs);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    await this.#inFlight;
  }
}

import type { Logger } from "pino";
import type {
  LogDriver,
  PartitionReader,
  PublishItem,
  StoredMessage,
} from "../../../platform/messaging/index.ts";
import {
  type Anomaly,
  createEventBatch,
  type Indicators,
  KeyedWindowPipeline,
  type KeyedWindowPipelineSnapshot,
  tumbling,
  type WindowResult,
  watermarkToJson,
} from "../../../platform/stream/index.ts";
import type { Clock, TimerHandle } from "../../../platform/time/index.ts";
import type { AnalyticsConfig } from "../config.ts";
import { AnomalyDetected, LatestTradesUpdated, TOPICS, WindowsUpdated } from "../events.ts";
import { decodeTrades, type Instrument, toEventBatch } from "../feed/index.ts";
import { emptyWrites, type ShardedStore, type ShardWrites, type WindowResultsTable } from "../store/index.ts";
import type { CheckpointStore } from "./checkpoints.ts";

/** What a checkpoint holds besides the offset: the operators' state and the listings of the symbols seen. */
interface PartitionState {
  pipeline: KeyedWindowPipelineSnapshot;
  listings: [symbol: string, exchange: string, assetClass: string][];
}

export interface PartitionTaskOptions {
  partition: number;
  group: string;
  owner: string;
  config: AnalyticsConfig;
  log: LogDriver;
  checkpoints: CheckpointStore;
  shards: ShardedStore;
  clock: Clock;
  logger: Logger;
  /** Publishes window events and anomalies (the bus). */
  publish(items: PublishItem[]): Promise<unknown>;
  /** Messages per read. */
  readBatch: number;
  /** How long a read waits for data before the task ticks anyway (idle watermarks, checkpoints). */
  idleTickMs: number;
  /** Results wait at most this long for the next flush to the shards while data keeps coming. */
  flushIntervalMs: number;
  /** Trades processed and their results flushed to the shards. */
  onProcessed?(trades: number): void;
  onCheckpoint?(ms: number, bytes: number): void;
}

/**
 * Flushes of a partition in flight at once. A flush's rows join whatever its shard lanes already queue, so
 * more in flight only grows those statements; past this the partition waits for the oldest to land.
 */
const MAX_FLUSHES_IN_FLIGHT = 4;

interface PendingWindow {
  row: WindowResultsTable;
  shard: number;
}

/**
 * One trade partition's processing unit: its own pipeline, restored from the partition's checkpoint, fed from
 * the checkpoint's offset on. Results are upserted into the shards after every read; every checkpoint
 * interval the state and the offset are saved in one statement, and only then is the log cursor committed,
 * so the cursor never runs ahead of a checkpoint: after a crash, the replayed tail is skipped by offset or
 * recomputed to the same rows.
 */
export class PartitionTask {
  readonly partition: number;
  readonly #o: PartitionTaskOptions;
  readonly #pipeline: KeyedWindowPipeline;
  readonly #listings = new Map<string, Instrument>();
  #epoch = 0;
  #offset = -1;
  #committedOffset = -1;
  #reader: PartitionReader | undefined;
  #stopping = false;
  #fenced = false;
  #done: Promise<void> | undefined;
  /**
   * When the next checkpoint is due. Partition p's checkpoints fall p/partitions of an interval after
   * partition 0's, and each is due an interval after the previous one was due: the synchronous snapshots
   * (about 6 ms each at 100k trades/s) of a process's partitions come one at a time, not all in one loop
   * turn (8 partitions at once stalled the event loop ~50 ms once a second, delaying every window result
   * that was closing then).
   */
  #nextCheckpointAt = 0;
  #lastFlushAt = 0;
  #unflushed = 0;
  #pendingWindows = new Map<string, PendingWindow>();
  #writes = new Map<number, ShardWrites>();
  #anomalies: PublishItem[] = [];
  #changedSymbols = new Set<string>();
  /** Symbols whose latest trade the next flush stores. */
  #latestChanged = new Set<string>();
  #maxClosedEnd = Number.NEGATIVE_INFINITY;
  #batch = createEventBatch(1_024);
  #wake: (() => void) | undefined;
  /** The checkpoint being saved in the background; at most one at a time, in order. */
  #saving: Promise<void> | undefined;
  #saveFailure: unknown;
  /** Flushes started and not landed yet (their upserts, then their events), at most MAX_FLUSHES_IN_FLIGHT. */
  readonly #flushing = new Set<Promise<void>>();
  #flushFailure: unknown;
  #idleTimer: TimerHandle | undefined;

  constructor(options: PartitionTaskOptions) {
    this.partition = options.partition;
    this.#o = options;
    const w = options.config.windows;
    this.#pipeline = new KeyedWindowPipeline({
      windows: tumbling(w.sizeMs),
      outOfOrdernessMs: w.outOfOrdernessMs,
      allowedLatenessMs: w.allowedLatenessMs,
      idleTimeoutMs: w.idleTimeoutMs,
      clock: options.clock,
      indicators: {
        period: w.movingAverageWindows,
        zScoreThreshold: w.zScoreThreshold,
        volumeSpikeFactor: w.volumeSpikeFactor,
      },
      onResult: (r) => this.#onResult(r),
      onIndicators: (i) => this.#onIndicators(i),
      onAnomaly: (a) => this.#onAnomaly(a),
    });
  }

  /** True once another member took the partition over (our checkpoint was refused). */
  get fenced(): boolean {
    return this.#fenced;
  }

  get offset(): number {
    return this.#offset;
  }

  get watermark(): number {
    return this.#pipeline.aggregator.watermark;
  }

  /** Claims the partition, restores its checkpoint, opens the log cursor and starts working. */
  async start(): Promise<void> {
    const o = this.#o;
    const claimed = await o.checkpoints.claim(o.group, o.partition, o.owner, o.clock.now());
    this.#epoch = claimed.epoch;
    this.#offset = claimed.offset;
    this.#committedOffset = claimed.offset;
    if (claimed.state) {
      const state = JSON.parse(claimed.state) as PartitionState;
      this.#pipeline.restore(state.pipeline);
      for (const [symbol, exchange, assetClass] of state.listings) {
        this.#listings.set(symbol, { symbol, exchange, assetClass: assetClass as Instrument["assetClass"] });
      }
    }
    const interval = o.config.checkpointIntervalMs;
    this.#nextCheckpointAt =
      o.clock.now() +
      interval +
      Math.floor((interval * (o.partition % o.config.partitions)) / o.config.partitions);
    this.#reader = await o.log.openReader(TOPICS.trades, o.group, o.partition);
    this.#done = this.#run();
  }

  /** Finishes the read in hand, flushes, checkpoints (unless fenced) and closes the cursor. */
  async stop(options: { checkpoint?: boolean } = {}): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#done?.catch(() => {});
    try {
      if (options.checkpoint !== false && !this.#fenced && this.#reader) {
        this.#flush();
        await this.#checkpoint();
      }
    } finally {
      // Nothing of this task writes after stop() returns (the stores may be closed next).
      await Promise.all([...this.#flushing].map((f) => f.catch(() => {})));
      await this.#reader?.close();
    }
  }

  /** Resolves when the task's loop ends (stopped, fenced or failed). */
  get done(): Promise<void> {
    return this.#done ?? Promise.resolve();
  }

  async #run(): Promise<void> {
    const o = this.#o;
    const reader = this.#reader!;
    let pending: Promise<StoredMessage[]> | undefined;
    try {
      while (!this.#stopping && !this.#fenced) {
        if (this.#saveFailure) throw this.#saveFailure;
        if (this.#flushFailure) throw this.#flushFailure;
        pending ??= reader.next(o.readBatch);
        const messages = await Promise.race([pending, this.#idle()]);
        this.#idleTimer?.cancel();
        if (this.#stopping) break;
        if (messages) {
          pending = undefined;
          this.#unflushed += this.#process(messages);
        }
        this.#pipeline.tick();
        const now = o.clock.now();
        const checkpointDue = this.#saving === undefined && now >= this.#nextCheckpointAt;
        // Latest-trade upserts are batched over reads for at most flushIntervalMs (under load many small reads
        // come in a row, and one upsert of a symbol's newest row beats one per read); closed windows go at once.
        if (
          !messages ||
          checkpointDue ||
          this.#pendingWindows.size > 0 ||
          now - this.#lastFlushAt >= o.flushIntervalMs
        ) {
          this.#flush();
        }
        // Backpressure: the shards set the pace once they fall behind by this many flushes.
        if (this.#flushing.size >= MAX_FLUSHES_IN_FLIGHT) {
          await Promise.race([...this.#flushing].map((f) => f.catch(() => {})));
        }
        if (checkpointDue) {
          // Saved while the partition reads on: waiting for it (a state of ~170 kB, one UPDATE, the cursor
          // commit) held every window and latest trade of the partition back by 30–170 ms each second. The
          // checkpoint waits for the flush above (and every one before) to land before it saves, so every
          // result the snapshot counts as emitted is in the shards.
          const saving = this.#checkpoint();
          this.#saving = saving;
          saving
            .catch((err: unknown) => {
              this.#saveFailure = err;
              this.#wake?.();
            })
            .finally(() => {
              if (this.#saving === saving) this.#saving = undefined;
            });
        }
      }
    } finally {
      // A read still in flight is abandoned with the cursor: its messages come again to the next reader.
      void pending?.catch(() => {});
      await this.#saving?.catch(() => {});
    }
    if (this.#saveFailure) throw this.#saveFailure;
    if (this.#flushFailure) throw this.#flushFailure;
  }

  #idle(): Promise<undefined> {
    return new Promise((resolve) => {
      this.#idleTimer = this.#o.clock.setTimeout(() => resolve(undefined), this.#o.idleTickMs);
      this.#wake = () => {
        this.#idleTimer?.cancel();
        resolve(undefined);
      };
    });
  }

  /** Feeds the messages' trades to the pipeline; returns how many (duplicates included). */
  #process(messages: StoredMessage[]): number {
    let trades = 0;
    for (const message of messages) {
      // Already in the restored state: a redelivery of what the last checkpoint covers.
      if (message.offset <= this.#offset) continue;
      const payload = (message.parsed ? message.payload : JSON.parse(message.data)) as { frame: string };
      const frame = Buffer.from(payload.frame, "base64");
      const batch = decodeTrades(new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength));
      this.#latest(batch);
      for (const instrument of batch.instruments) {
        if (!this.#listings.has(instrument.symbol)) {
          this.#listings.set(instrument.symbol, instrument);
          this.#writesFor(instrument).symbols.push({
            symbol: instrument.symbol,
            exchange: instrument.exchange,
            asset_class: instrument.assetClass,
          });
        }
      }
      if (this.#batch.key.length < batch.length) this.#batch = createEventBatch(batch.length);
      const events = toEventBatch(batch, this.#pipeline.keys, this.#batch);
      this.#pipeline.processBatch(0, events);
      this.#offset = message.offset;
      trades += batch.length;
    }
    return trades;
  }

  #latest(batch: ReturnType<typeof decodeTrades>): void {
    const newest = new Int32Array(batch.instruments.length).fill(-1);
    for (let i = 0; i < batch.length; i++) {
      const k = batch.instrument[i]!;
      const at = newest[k]!;
      if (at < 0 || batch.ts[i]! >= batch.ts[at]!) newest[k] = i;
    }
    const now = this.#o.clock.now();
    for (let k = 0; k < newest.length; k++) {
      const i = newest[k]!;
      if (i < 0) continue;
      const instrument = batch.instruments[k]!;
      this.#latestChanged.add(instrument.symbol);
      this.#writesFor(instrument).latest.push({
        symbol: instrument.symbol,
        exchange: instrument.exchange,
        asset_class: instrument.assetClass,
        trade_id: batch.tradeId[i]!,
        price: batch.price[i]!,
        size: batch.size[i]!,
        ts: batch.ts[i]!,
        updated_at: now,
      });
    }
  }

  #writesFor(listing: { exchange: string; assetClass: string }): ShardWrites {
    const shard = this.#o.shards.shardIndexOfListing(listing);
    let writes = this.#writes.get(shard);
    if (!writes) {
      writes = emptyWrites();
      this.#writes.set(shard, writes);
    }
    return writes;
  }

  #listingOf(key: number): Instrument {
    const symbol = this.#pipeline.keys.keyOf(key);
    const listing = this.#listings.get(symbol);
    if (!listing) throw new Error(`no listing for ${symbol}`);
    return listing;
  }

  #onResult(r: WindowResult): void {
    const listing = this.#listingOf(r.key);
    const row: WindowResultsTable = {
      symbol: listing.symbol,
      window_ms: this.#o.config.windows.sizeMs,
      window_start: r.start,
      window_end: r.end,
      exchange: listing.exchange,
      asset_class: listing.assetClass,
      count: r.count,
      volume: r.volume,
      vwap: r.vwap,
      open: r.open,
      high: r.high,
      low: r.low,
      close: r.close,
      sma: null,
      ema: null,
      revision: r.revision,
      updated_at: this.#o.clock.now(),
    };
    this.#pendingWindows.set(`${r.key}:${r.start}`, {
      row,
      shard: this.#o.shards.shardIndexOfListing(listing),
    });
    this.#changedSymbols.add(listing.symbol);
    if (r.end > this.#maxClosedEnd) this.#maxClosedEnd = r.end;
  }

  #onIndicators(i: Indicators): void {
    const pending = this.#pendingWindows.get(`${i.key}:${i.start}`);
    if (!pending) return;
    pending.row.sma = i.sma;
    pending.row.ema = i.ema;
  }

  #onAnomaly(a: Anomaly): void {
    const listing = this.#listingOf(a.key);
    const row = {
      symbol: listing.symbol,
      window_ms: this.#o.config.windows.sizeMs,
      window_start: a.start,
      kind: a.kind,
      score: a.score,
      value: a.value,
      exchange: listing.exchange,
      asset_class: listing.assetClass,
      at: this.#o.clock.now(),
    };
    this.#writesFor(listing).anomalies.push(row);
    this.#anomalies.push({
      topic: TOPICS.anomalies,
      key: listing.symbol,
      event: AnomalyDetected.create({
        symbol: row.symbol,
        windowMs: row.window_ms,
        windowStart: row.window_start,
        kind: row.kind,
        score: row.score,
        value: row.value,
        exchange: row.exchange,
        assetClass: row.asset_class,
        at: row.at,
      }),
      // Deterministic: a replay re-detecting the same anomaly is dropped by the broker's dedupe.
      id: `anomaly-${row.symbol}-${row.window_ms}-${row.window_start}-${row.kind}`,
    });
  }

  /**
   * Starts upserting everything produced since the last flush (one transaction per shard, shards in
   * parallel) and returns at once: the partition reads on while the shards write. Waiting for each flush
   * held the partition's next messages back by the upsert's round trip (at 100k trades/s on Postgres, 5 ms
   * at the median and 43 ms at p99 for latest trades, 29 and 98 ms when windows closed), and a window
   * closes only when the partition reads the trade that moves its watermark. Flushes of a partition land in
   * order: each shard's lane is a queue. A failure fails the task, which restarts from its checkpoint.
   */
  #flush(): void {
    this.#lastFlushAt = this.#o.clock.now();
    for (const { row, shard } of this.#pendingWindows.values()) {
      let writes = this.#writes.get(shard);
      if (!writes) {
        writes = emptyWrites();
        this.#writes.set(shard, writes);
      }
      writes.windows.push(row);
    }
    this.#pendingWindows.clear();
    const writes = this.#writes;
    this.#writes = new Map();
    const symbols = [...this.#latestChanged];
    this.#latestChanged.clear();
    const anomalies = this.#anomalies;
    this.#anomalies = [];
    const trades = this.#unflushed;
    this.#unflushed = 0;
    if (writes.size === 0 && symbols.length === 0 && anomalies.length === 0 && trades === 0) return;
    const flush = this.#land(writes, symbols, anomalies, trades);
    this.#flushing.add(flush);
    flush
      .catch((err: unknown) => {
        this.#flushFailure ??= err;
        this.#wake?.();
      })
      .finally(() => this.#flushing.delete(flush));
  }

  /** One flush: the upserts, then the events announcing them (never before the rows are visible). */
  async #land(
    writes: Map<number, ShardWrites>,
    symbols: string[],
    anomalies: PublishItem[],
    trades: number,
  ): Promise<void> {
    if (writes.size > 0) await this.#o.shards.writeAll(writes);
    if (symbols.length > 0) {
      await this.#o
        .publish([
          {
            topic: TOPICS.windowEvents,
            key: `p${this.#o.partition}`,
            event: LatestTradesUpdated.create({ symbols, at: this.#o.clock.now() }),
          },
        ])
        .catch((err: unknown) => this.#o.logger.warn({ err }, "publishing latest-trade events failed"));
    }
    if (anomalies.length > 0) {
      await this.#o
        .publish(anomalies)
        .catch((err: unknown) =>
          this.#o.logger.warn({ err }, "publishing anomalies failed; they are stored in the shards"),
        );
    }
    if (trades > 0) this.#o.onProcessed?.(trades);
  }

  /** Resolves once every flush started so far has landed; rejects if one of them failed. */
  async #flushed(): Promise<void> {
    await Promise.all([...this.#flushing]);
    if (this.#flushFailure) throw this.#flushFailure;
  }

  /**
   * Snapshots the state at the offset read so far (synchronously, before anything else can run), then saves
   * it and commits the cursor for that offset, never a later one: the task may have read on meanwhile.
   */
  async #checkpoint(): Promise<void> {
    const o = this.#o;
    const started = o.clock.now();
    const interval = o.config.checkpointIntervalMs;
    while (this.#nextCheckpointAt <= started) this.#nextCheckpointAt += interval;
    const offset = this.#offset;
    const state: PartitionState = {
      pipeline: this.#pipeline.snapshot(),
      listings: [...this.#listings.values()].map((l) => [l.symbol, l.exchange, l.assetClass]),
    };
    const text = JSON.stringify(state);
    const symbols = [...this.#changedSymbols];
    this.#changedSymbols.clear();
    const windowEnd = this.#maxClosedEnd;
    const watermark = watermarkToJson(this.watermark) ?? 0;
    // The snapshot counts every result emitted so far as written: save it only once they are.
    await this.#flushed();
    const saved = await o.checkpoints.save(o.group, o.partition, this.#epoch, offset, text, o.clock.now());
    if (!saved) {
      this.#fenced = true;
      this.#wake?.();
      o.logger.warn(
        { partition: o.partition },
        "partition taken over by another processor; stopping it here",
      );
      return;
    }
    if (offset > this.#committedOffset) {
      await this.#reader!.commit(offset);
      this.#committedOffset = offset;
    }
    o.onCheckpoint?.(o.clock.now() - started, text.length);
    if (symbols.length > 0) {
      await o
        .publish([
          {
            topic: TOPICS.windowEvents,
            key: `p${o.partition}`,
            event: WindowsUpdated.create({ symbols, windowEnd, watermark, at: o.clock.now() }),
          },
        ])
        .catch((err: unknown) => o.logger.warn({ err }, "publishing window events failed"));
    }
  }
}

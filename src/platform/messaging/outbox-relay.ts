import type { Kysely, Selectable } from "kysely";
import type { Store } from "../storage/index.ts";
import { type Clock, systemClock, type TimerHandle } from "../time/index.ts";
import type { EmbeddedLogDriver } from "./embedded/embedded-driver.ts";
import type { MessagingTables } from "./embedded/schema.ts";
import { partitionOf } from "./naming.ts";
import type { Bus, PublishItem } from "./types.ts";

type OutboxRow = Selectable<MessagingTables["messaging_outbox"]>;

export interface OutboxRelayOptions {
  /** The store the outbox rows are written to. */
  store: Store;
  /** Where rows are published (at-least-once; the message ID lets the broker and inboxes drop repeats). */
  bus: Bus;
  /**
   * When the bus is the embedded log on this same store: rows move into the log and are marked sent in one
   * transaction, so each row reaches the log exactly once, without a publish round trip.
   */
  sameStoreLog?: EmbeddedLogDriver;
  /** Rows per batch. Default 500. */
  batchSize?: number;
  /** Idle wait between polls when the outbox is empty. Default 50 ms. */
  pollMs?: number;
  clock?: Clock;
  onError?: (error: unknown) => void;
}

/**
 * Publishes outbox rows in order, in batches, then marks them sent. A crash between publish and mark
 * publishes the batch again on restart: that is the at-least-once half the message ID makes harmless.
 */
export class OutboxRelay {
  readonly #o: OutboxRelayOptions;
  readonly #db: Kysely<MessagingTables>;
  readonly #clock: Clock;
  readonly #batchSize: number;
  #timer: TimerHandle | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;
  #busy = false;
  #wokenWhileBusy = false;

  constructor(options: OutboxRelayOptions) {
    this.#o = options;
    this.#db = options.store.db as Kysely<MessagingTables>;
    this.#clock = options.clock ?? systemClock;
    this.#batchSize = options.batchSize ?? 500;
  }

  /** Publishes one batch; returns how many rows it sent. */
  async runOnce(): Promise<number> {
    if (this.#o.sameStoreLog) return this.#moveIntoLog(this.#o.sameStoreLog);
    const rows = await this.#unsent(this.#db);
    if (rows.length === 0) return 0;
    await this.#o.bus.publishBatch(rows.map(toItem));
    await this.#db
      .updateTable("messaging_outbox")
      .set({ sent_at: this.#clock.now() })
      .where(
        "seq",
        "in",
        rows.map((r) => r.seq),
      )
      .execute();
    return rows.length;
  }

  /** Runs batches until the outbox is empty. */
  async drain(): Promise<number> {
    let total = 0;
    // A short batch means the outbox was empty at that read; rows committed since then come with a wake or
    // the next poll, so another read now would almost always be an empty transaction.
    for (let sent = await this.runOnce(); ; sent = await this.runOnce()) {
      total += sent;
      if (sent < this.#batchSize) return total;
    }
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#loop();
  }

  /**
   * Runs a pass now rather than at the next poll. Call it after a transaction that wrote outbox rows has
   * committed: in one process the event then moves on at once instead of up to `pollMs` later.
   */
  wake(): void {
    if (this.#stopped) return;
    if (this.#busy) {
      this.#wokenWhileBusy = true;
      return;
    }
    this.#timer?.cancel();
    this.#loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    await this.#running;
  }

  /** Unsent rows older than this many sent rows are kept for audit; prune sent rows past a retention. */
  async prune(olderThanMs: number): Promise<number> {
    const result = await this.#db
      .deleteFrom("messaging_outbox")
      .where("sent_at", "is not", null)
      .where("sent_at", "<", this.#clock.now() - olderThanMs)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  #loop(): void {
    if (this.#stopped) return;
    this.#busy = true;
    this.#wokenWhileBusy = false;
    this.#running = this.drain()
      .catch((err) => (this.#o.onError ?? ((e) => console.error("bulwark outbox relay:", e)))(err))
      .finally(() => {
        this.#busy = false;
        if (this.#stopped) return;
        // A wake during the pass may have come after its last read: pass again at once, else poll later.
        if (this.#wokenWhileBusy) this.#loop();
        else this.#timer = this.#clock.setTimeout(() => this.#loop(), this.#o.pollMs ?? 50);
      })
      .then(() => undefined);
  }

  async #moveIntoLog(log: EmbeddedLogDriver): Promise<number> {
    const moved = await this.#db.transaction().execute(async (trx) => {
      const rows = await this.#unsent(trx);
      const byTopic = new Map<string, OutboxRow[]>();
      for (const row of rows) byTopic.set(row.topic, [...(byTopic.get(row.topic) ?? []), row]);
      const records = [];
      for (const [topic, list] of byTopic) {
        const partitions = await log.partitionCount(topic);
        const topicRecords = list.map((r) => ({
          id: r.msg_id,
          partition: partitionOf(r.key, partitions),
          key: r.key,
          type: r.type,
          version: r.version,
          headers: JSON.parse(r.headers),
          data: r.payload,
          publishedAt: Number(r.created_at),
        }));
        records.push(...(await log.appendWith(trx, topic, topicRecords)));
      }
      if (rows.length > 0) {
        await trx
          .updateTable("messaging_outbox")
          .set({ sent_at: this.#clock.now() })
          .where("seq", "<=", rows[rows.length - 1]!.seq)
          .where("sent_at", "is", null)
          .execute();
      }
      return { count: rows.length, records };
    });
    log.handOff(moved.records);
    return moved.count;
  }

  #unsent(db: Kysely<MessagingTables>): Promise<OutboxRow[]> {
    return db
      .selectFrom("messaging_outbox")
      .selectAll()
      .where("sent_at", "is", null)
      .orderBy("seq")
      .limit(this.#batchSize)
      .execute();
  }
}

function toItem(row: OutboxRow): PublishItem {
  return {
    id: row.msg_id,
    topic: row.topic,
    key: row.key,
    event: { type: row.type, version: row.version, payload: JSON.parse(row.payload) },
    headers: JSON.parse(row.headers),
  };
}

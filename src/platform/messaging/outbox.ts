import { randomUUIDv7 } from "node:crypto";
import type { Kysely } from "kysely";
import type { Store } from "../storage/index.ts";
import { type Clock, systemClock } from "../time/index.ts";
import type { LogRecord } from "./driver.ts";
import type { EmbeddedLogDriver } from "./embedded/embedded-driver.ts";
import type { CommittedRow } from "./embedded/log-readers.ts";
import { type MessagingTables, messagingMigrations } from "./embedded/schema.ts";
import type { EventRegistry } from "./event-registry.ts";
import { assertEventType, assertName, partitionOf } from "./naming.ts";
import { startSendSpan } from "./tracing.ts";
import type { Headers, PublishItem } from "./types.ts";

// biome-ignore lint/suspicious/noExplicitAny: the domain's transaction, whatever its table types.
type AnyKysely = Kysely<any>;

export interface OutboxOptions {
  registry?: EventRegistry;
  clock?: Clock;
  /** `messaging.system.name` on the send span. */
  system?: string;
  /**
   * The embedded log, when it lives in the same SQLite store as the domain tables. Events then append to
   * the log itself inside the domain transaction: the log is the outbox, so there is no relay pass and each
   * event reaches the log exactly once. Call `wake()` after the commit so readers in this process see it.
   */
  log?: EmbeddedLogDriver;
}

/**
 * The transactional outbox: domain code writes its event rows with the same transaction as its state
 * change, so an event exists exactly when the change committed. A relay publishes them later.
 */
export class Outbox {
  readonly #registry: EventRegistry | undefined;
  readonly #clock: Clock;
  readonly #system: string;
  readonly #log: EmbeddedLogDriver | undefined;
  readonly #partitions = new Map<string, number>();
  /** Log rows appended per open transaction (log mode), until handOff() after its commit. */
  readonly #appended = new WeakMap<object, CommittedRow[]>();

  constructor(options: OutboxOptions = {}) {
    this.#log = options.log;
    this.#registry = options.registry;
    this.#clock = options.clock ?? systemClock;
    this.#system = options.system ?? "bulwark";
  }

  /** Creates the outbox and inbox tables (namespace "messaging") if missing. */
  static async migrate(store: Store): Promise<void> {
    await store.migrate("messaging", messagingMigrations);
  }

  /** Writes one event row inside `trx`, the domain's own transaction; returns the message ID. */
  async enqueue(trx: AnyKysely, item: PublishItem): Promise<string> {
    const [id] = await this.enqueueMany(trx, [item]);
    return id!;
  }

  async enqueueMany(trx: AnyKysely, items: readonly PublishItem[]): Promise<string[]> {
    const now = this.#clock.now();
    const rows = items.map((item): OutboxRow => {
      assertName("topic", item.topic);
      assertEventType(item.event.type, item.event.version);
      this.#registry?.assertValid(item.event);
      const headers: Headers = { ...item.headers };
      // The send span is the enqueue: that is when the event came to be; the consumer links to it.
      startSendSpan(this.#system, item.topic, headers).end();
      return {
        // Time-ordered: each consumer's inbox record, keyed by it, then goes in at the end of the inbox index.
        msg_id: item.id ?? randomUUIDv7(),
        topic: item.topic,
        key: item.key,
        type: item.event.type,
        version: item.event.version,
        headers: JSON.stringify(headers),
        payload: JSON.stringify(item.event.payload),
        created_at: now,
      };
    });
    if (this.#log) await this.#appendToLog(this.#log, trx, rows);
    else if (rows.length > 0)
      await (trx as Kysely<MessagingTables>).insertInto("messaging_outbox").values(rows).execute();
    return rows.map((r) => r.msg_id);
  }

  /**
   * After `trx`, which enqueued events, committed: hands its log rows to this process's readers, which then
   * need not read them back (log mode). Never call it for a transaction that rolled back.
   */
  handOff(trx: AnyKysely): void {
    const rows = this.#appended.get(trx);
    if (!rows) return;
    this.#appended.delete(trx);
    this.#log?.handOff(rows);
  }

  /**
   * After the transaction that enqueued `items` committed: wakes this process's readers of their partitions
   * (log mode), which read them from SQLite; handOff() spares that read. Without a log the relay publishes
   * the rows; wake the relay instead.
   */
  wake(items: ReadonlyArray<Pick<PublishItem, "topic" | "key">>): void {
    const log = this.#log;
    if (!log) return;
    for (const { topic, key } of items) {
      const partitions = this.#partitions.get(topic);
      if (partitions !== undefined) log.wake(topic, [{ partition: partitionOf(key, partitions) }]);
    }
  }

  async #appendToLog(log: EmbeddedLogDriver, trx: AnyKysely, rows: readonly OutboxRow[]): Promise<void> {
    const byTopic = new Map<string, LogRecord[]>();
    for (const row of rows) {
      let partitions = this.#partitions.get(row.topic);
      if (partitions === undefined) {
        partitions = await log.partitionCount(row.topic);
        this.#partitions.set(row.topic, partitions);
      }
      let records = byTopic.get(row.topic);
      if (!records) {
        records = [];
        byTopic.set(row.topic, records);
      }
      records.push({
        id: row.msg_id,
        partition: partitionOf(row.key, partitions),
        key: row.key,
        type: row.type,
        version: row.version,
        headers: JSON.parse(row.headers),
        data: row.payload,
        publishedAt: row.created_at,
      });
    }
    let appended = this.#appended.get(trx);
    if (!appended) {
      appended = [];
      this.#appended.set(trx, appended);
    }
    for (const [topic, records] of byTopic) appended.push(...(await log.appendWith(trx, topic, records)));
  }
}

/** An outbox row as enqueue builds it (the table's generated columns left out). */
type OutboxRow = Omit<MessagingTables["messaging_outbox"], "seq" | "sent_at">;

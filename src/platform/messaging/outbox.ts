import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { Store } from "../storage/index.ts";
import { type Clock, systemClock } from "../time/index.ts";
import { type MessagingTables, messagingMigrations } from "./embedded/schema.ts";
import type { EventRegistry } from "./event-registry.ts";
import { assertEventType, assertName } from "./naming.ts";
import { startSendSpan } from "./tracing.ts";
import type { Headers, PublishItem } from "./types.ts";

// biome-ignore lint/suspicious/noExplicitAny: the domain's transaction, whatever its table types.
type AnyKysely = Kysely<any>;

export interface OutboxOptions {
  registry?: EventRegistry;
  clock?: Clock;
  /** `messaging.system.name` on the send span. */
  system?: string;
}

/**
 * The transactional outbox: domain code writes its event rows with the same transaction as its state
 * change, so an event exists exactly when the change committed. A relay publishes them later.
 */
export class Outbox {
  readonly #registry: EventRegistry | undefined;
  readonly #clock: Clock;
  readonly #system: string;

  constructor(options: OutboxOptions = {}) {
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
    const rows = items.map((item) => {
      assertName("topic", item.topic);
      assertEventType(item.event.type, item.event.version);
      this.#registry?.assertValid(item.event);
      const headers: Headers = { ...item.headers };
      // The send span is the enqueue: that is when the event came to be; the consumer links to it.
      startSendSpan(this.#system, item.topic, headers).end();
      return {
        msg_id: item.id ?? randomUUID(),
        topic: item.topic,
        key: item.key,
        type: item.event.type,
        version: item.event.version,
        headers: JSON.stringify(headers),
        payload: JSON.stringify(item.event.payload),
        created_at: now,
      };
    });
    if (rows.length > 0)
      await (trx as Kysely<MessagingTables>).insertInto("messaging_outbox").values(rows).execute();
    return rows.map((r) => r.msg_id);
  }
}

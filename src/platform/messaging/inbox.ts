import type { Kysely, Transaction } from "kysely";
import { type GroupCommit, type Placeholders, prepare, type Store } from "../storage/index.ts";
import { type Clock, systemClock } from "../time/index.ts";
import type { MessagingTables } from "./embedded/schema.ts";
import type { Message } from "./types.ts";

/** Once per message and consumer group: prepared, since every delivery runs it. */
const CLAIM = prepare((db: Kysely<MessagingTables>, p: Placeholders<MessagingTables["messaging_inbox"]>) =>
  db
    .insertInto("messaging_inbox")
    .values({ grp: p("grp"), msg_id: p("msg_id"), processed_at: p("processed_at") })
    .onConflict((oc) => oc.columns(["msg_id", "grp"]).doNothing()),
);

export type HandleOnceResult<T> = { duplicate: true } | { duplicate: false; result: T };

/**
 * The idempotent consumer: the "processed" record and the handler's state change commit in one
 * transaction, so a redelivered message finds its record and has no second effect. The record is written
 * first: on Postgres a concurrent duplicate then waits on the key and skips once the first commits.
 */
// biome-ignore lint/suspicious/noExplicitAny: the effect sees the caller's own table types.
export class Inbox<DB = any> {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #units: GroupCommit | undefined;

  /** With `units`, each message's transaction may share a commit with others (GroupCommit, SQLite only). */
  constructor(store: Store, { clock = systemClock, units }: { clock?: Clock; units?: GroupCommit } = {}) {
    this.#store = store;
    this.#clock = clock;
    this.#units = units;
  }

  async handleOnce<T>(
    group: string,
    message: Pick<Message, "id">,
    effect: (trx: Transaction<DB>) => Promise<T>,
  ): Promise<HandleOnceResult<T>> {
    const db = this.#store.db as Kysely<MessagingTables>;
    const unit = async (trx: Transaction<MessagingTables>): Promise<HandleOnceResult<T>> => {
      const claimed = await CLAIM.execute(trx, {
        grp: group,
        msg_id: message.id,
        processed_at: this.#clock.now(),
      });
      if (Number(claimed.numAffectedRows ?? 0) === 0) return { duplicate: true } as const;
      return { duplicate: false, result: await effect(trx as unknown as Transaction<DB>) } as const;
    };
    return this.#units ? this.#units.transaction(unit) : db.transaction().execute(unit);
  }

  /** Forgets processed records older than `olderThanMs` (keep it above the longest redelivery horizon). */
  async prune(olderThanMs: number): Promise<number> {
    const db = this.#store.db as Kysely<MessagingTables>;
    const result = await db
      .deleteFrom("messaging_inbox")
      .where("processed_at", "<", this.#clock.now() - olderThanMs)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

import { type Kysely, sql } from "kysely";
import type { Store } from "../../storage/index.ts";
import { type Clock, systemClock } from "../../time/index.ts";
import type { LogDriver, LogRecord, PartitionReader, StoredMessage } from "../driver.ts";
import { MessagingError } from "../errors.ts";
import type { BusCapabilities, GroupPosition, TopicSpec } from "../types.ts";
import { type MessagingTables, messagingMigrations } from "./schema.ts";
import { SqlLeaseStore } from "./sql-leases.ts";

export interface EmbeddedDriverOptions {
  /** A SQLite store; the log lives beside the domain tables, so an outbox can append in the same transaction. */
  store: Store;
  clock?: Clock;
  /** How often an idle reader looks for rows written by another process. Default 20 ms. */
  pollMs?: number;
}

/**
 * The embedded durable log: a table of messages keyed by an ever-growing sequence (the offset), group
 * offsets in another, leases in a third. SQLite serialises writers, so sequences commit in order and a
 * reader never skips a row that commits later; that is why this log is SQLite only.
 */
export async function embeddedDriver(options: EmbeddedDriverOptions): Promise<EmbeddedLogDriver> {
  if (options.store.kind !== "sqlite") {
    throw new MessagingError(
      "BWK_ERR_MESSAGING_INVALID_NAME",
      "the embedded log needs a SQLite store; use the JetStream driver with Postgres",
    );
  }
  await options.store.migrate("messaging", messagingMigrations);
  return new EmbeddedLogDriver(options);
}

export class EmbeddedLogDriver implements LogDriver {
  readonly capabilities: BusCapabilities = {
    durable: true,
    distributed: true,
    brokerDedupe: false,
    replayByTime: true,
  };
  readonly leases: SqlLeaseStore;
  readonly #db: Kysely<MessagingTables>;
  readonly #clock: Clock;
  readonly #pollMs: number;
  readonly #partitions = new Map<string, number>();
  /** Readers of this process waiting on a partition; an append here wakes them without waiting a poll. */
  readonly #waiters = new Map<string, Set<() => void>>();

  constructor(options: EmbeddedDriverOptions) {
    this.#db = options.store.db as Kysely<MessagingTables>;
    this.#clock = options.clock ?? systemClock;
    this.#pollMs = options.pollMs ?? 20;
    this.leases = new SqlLeaseStore(this.#db, this.#clock);
  }

  async declareTopic(spec: TopicSpec): Promise<void> {
    await this.#db
      .insertInto("messaging_topics")
      .values({ name: spec.name, partitions: spec.partitions })
      .onConflict((oc) => oc.column("name").doNothing())
      .execute();
    const existing = await this.partitionCount(spec.name);
    if (existing !== spec.partitions) {
      throw new MessagingError(
        "BWK_ERR_MESSAGING_INVALID_NAME",
        `topic ${spec.name} exists with ${existing} partitions, not ${spec.partitions}`,
      );
    }
  }

  async partitionCount(topic: string): Promise<number> {
    const known = this.#partitions.get(topic);
    if (known !== undefined) return known;
    const row = await this.#db
      .selectFrom("messaging_topics")
      .select("partitions")
      .where("name", "=", topic)
      .executeTakeFirst();
    if (!row) throw new MessagingError("BWK_ERR_MESSAGING_UNKNOWN_TOPIC", `topic ${topic} is not declared`);
    this.#partitions.set(topic, row.partitions);
    return row.partitions;
  }

  async append(topic: string, records: readonly LogRecord[]): Promise<void> {
    await this.appendWith(this.#db, topic, records);
    this.wake(topic, records);
  }

  /** Appends inside the caller's transaction; call wake() after it commits. */
  async appendWith(db: Kysely<MessagingTables>, topic: string, records: readonly LogRecord[]): Promise<void> {
    if (records.length === 0) return;
    // One statement per batch: the rows travel as one JSON array that SQLite unpacks in C (json_each),
    // several times faster than a multi-row VALUES list built and bound per column.
    await sql`insert into messaging_log (topic, partition, msg_id, key, type, version, headers, payload, published_at)
      select ${topic}, value->>0, value->>1, value->>2, value->>3, value->>4, value->5, value->6, value->>7
      from json_each(${encodeBatch(records)})`.execute(db);
  }

  wake(topic: string, records: readonly Pick<LogRecord, "partition">[]): void {
    const seen = new Set<number>();
    for (const { partition } of records) {
      if (seen.has(partition)) continue;
      seen.add(partition);
      const waiters = this.#waiters.get(`${topic}/${partition}`);
      if (!waiters) continue;
      for (const wake of [...waiters]) wake();
      waiters.clear();
    }
  }

  async openReader(topic: string, group: string, partition: number): Promise<PartitionReader> {
    let cursor = await this.#committed(topic, group, partition);
    let closed = false;
    const abort = new AbortController();
    const key = `${topic}/${partition}`;
    // The batch comes back as one JSON document, payloads included: one JSON.parse instead of a row object
    // per message plus a parse per payload.
    const read = async (max: number) => {
      const { rows } = await sql<{ batch: string | null }>`select json_group_array(json_array(
          seq, msg_id, key, type, version, json(headers), json(payload), published_at) order by seq) as batch
        from (select * from messaging_log where topic = ${topic} and partition = ${partition} and seq > ${cursor}
          order by seq limit ${max})`.execute(this.#db);
      return JSON.parse(rows[0]?.batch ?? "[]") as EncodedRow[];
    };
    return {
      next: async (max) => {
        while (!closed) {
          const rows = await read(max);
          if (rows.length > 0) {
            cursor = rows[rows.length - 1]![0];
            return rows.map((row) => fromRow(row, partition));
          }
          await this.#wait(key, abort.signal);
        }
        return [];
      },
      commit: async (seq) => {
        await this.#db
          .insertInto("messaging_offsets")
          .values({ topic, grp: group, partition, seq })
          .onConflict((oc) => oc.columns(["topic", "grp", "partition"]).doUpdateSet({ seq }))
          .execute();
      },
      close: async () => {
        closed = true;
        abort.abort();
      },
    };
  }

  async lag(topic: string, group: string): Promise<number> {
    const partitions = await this.partitionCount(topic);
    let lag = 0;
    for (let p = 0; p < partitions; p++) {
      const from = await this.#committed(topic, group, p);
      const row = await this.#db
        .selectFrom("messaging_log")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("topic", "=", topic)
        .where("partition", "=", p)
        .where("seq", ">", from)
        .executeTakeFirstOrThrow();
      lag += Number(row.n);
    }
    return lag;
  }

  async resetGroup(topic: string, group: string, position: GroupPosition): Promise<void> {
    const partitions = await this.partitionCount(topic);
    for (let p = 0; p < partitions; p++) {
      const seq = await this.#positionToSeq(topic, p, position);
      await this.#db
        .insertInto("messaging_offsets")
        .values({ topic, grp: group, partition: p, seq })
        .onConflict((oc) => oc.columns(["topic", "grp", "partition"]).doUpdateSet({ seq }))
        .execute();
    }
  }

  /** Deletes messages older than `maxAgeMs` (retention), returning how many went. */
  async prune(topic: string, maxAgeMs: number): Promise<number> {
    const result = await this.#db
      .deleteFrom("messaging_log")
      .where("topic", "=", topic)
      .where("published_at", "<", this.#clock.now() - maxAgeMs)
      // The newest row of the whole log stays, so the rowid sequence never restarts below a committed offset.
      .where("seq", "<", (eb) => eb.selectFrom("messaging_log").select((e) => e.fn.max("seq").as("m")))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async close(): Promise<void> {}

  async #positionToSeq(topic: string, partition: number, position: GroupPosition): Promise<number> {
    if ("offset" in position) return position.offset - 1;
    if ("earliest" in position) return 0;
    const base = this.#db
      .selectFrom("messaging_log")
      .where("topic", "=", topic)
      .where("partition", "=", partition);
    if ("time" in position) {
      const first = await base
        .select((eb) => eb.fn.min<number>("seq").as("seq"))
        .where("published_at", ">=", position.time)
        .executeTakeFirst();
      if (first?.seq != null) return Number(first.seq) - 1;
    }
    const last = await base.select((eb) => eb.fn.max<number>("seq").as("seq")).executeTakeFirst();
    return Number(last?.seq ?? 0);
  }

  async #committed(topic: string, group: string, partition: number): Promise<number> {
    const row = await this.#db
      .selectFrom("messaging_offsets")
      .select("seq")
      .where("topic", "=", topic)
      .where("grp", "=", group)
      .where("partition", "=", partition)
      .executeTakeFirst();
    return Number(row?.seq ?? 0);
  }

  /** Until an append in this process, the poll interval, or abort: whichever comes first. */
  #wait(key: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.#waiters.get(key);
      if (!waiters) {
        waiters = new Set();
        this.#waiters.set(key, waiters);
      }
      const set = waiters;
      const done = () => {
        timer.cancel();
        set.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = this.#clock.setTimeout(done, this.#pollMs);
      set.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

type EncodedRow = [
  seq: number,
  id: string,
  key: string,
  type: string,
  version: number,
  headers: Record<string, string>,
  payload: unknown,
  publishedAt: number,
];

function encodeBatch(records: readonly LogRecord[]): string {
  const parts = records.map(
    (r) =>
      `[${r.partition},${JSON.stringify(r.id)},${JSON.stringify(r.key)},${JSON.stringify(r.type)},${r.version},${JSON.stringify(r.headers)},${r.data},${r.publishedAt}]`,
  );
  return `[${parts.join(",")}]`;
}

function fromRow(row: EncodedRow, partition: number): StoredMessage {
  return {
    id: row[1],
    partition,
    offset: row[0],
    key: row[2],
    type: row[3],
    version: row[4],
    headers: row[5],
    data: "",
    parsed: true,
    payload: row[6],
    publishedAt: row[7],
  };
}

import { type Kysely, sql } from "kysely";
import type { Store } from "../../storage/index.ts";
import { type Clock, systemClock, type TimerHandle } from "../../time/index.ts";
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
  /**
   * A group's offset is written at most this often per partition (and on close). Offsets only save
   * redelivery: a crash replays at most this window, which consumers handle like any at-least-once repeat.
   * Default 20 ms; 0 writes every commit.
   */
  commitIntervalMs?: number;
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
  readonly #commitIntervalMs: number;
  readonly #partitions = new Map<string, number>();
  /** Readers of this process waiting on a partition; an append here wakes them without waiting a poll. */
  readonly #waiters = new Map<string, Set<() => void>>();
  /** Per partition, a counter bumped by every wake: a reader whose last read came back short skips the
   * next read while it has not moved, since only another process could have appended (the poll covers that). */
  readonly #appends = new Map<string, number>();

  constructor(options: EmbeddedDriverOptions) {
    this.#db = options.store.db as Kysely<MessagingTables>;
    this.#clock = options.clock ?? systemClock;
    this.#pollMs = options.pollMs ?? 20;
    this.#commitIntervalMs = options.commitIntervalMs ?? 20;
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
      const key = `${topic}/${partition}`;
      this.#appends.set(key, (this.#appends.get(key) ?? 0) + 1);
      const waiters = this.#waiters.get(key);
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
    const offsets = new DeferredOffset(this.#clock, this.#commitIntervalMs, (seq) =>
      this.#db
        .insertInto("messaging_offsets")
        .values({ topic, grp: group, partition, seq })
        .onConflict((oc) => oc.columns(["topic", "grp", "partition"]).doUpdateSet({ seq }))
        .execute()
        .then(() => undefined),
    );
    // The batch comes back as one JSON document, payloads included: one JSON.parse instead of a row object
    // per message plus a parse per payload.
    const read = async (max: number) => {
      const { rows } = await sql<{ batch: string | null }>`select json_group_array(json_array(
          seq, msg_id, key, type, version, json(headers), json(payload), published_at) order by seq) as batch
        from (select * from messaging_log where topic = ${topic} and partition = ${partition} and seq > ${cursor}
          order by seq limit ${max})`.execute(this.#db);
      return JSON.parse(rows[0]?.batch ?? "[]") as EncodedRow[];
    };
    let drainedAt: number | undefined;
    return {
      next: async (max) => {
        while (!closed) {
          const appendsBefore = this.#appends.get(key) ?? 0;
          if (drainedAt === appendsBefore) {
            drainedAt = undefined;
            await this.#wait(key, abort.signal);
            continue;
          }
          drainedAt = undefined;
          const rows = await read(max);
          if (rows.length > 0) {
            cursor = rows[rows.length - 1]![0];
            if (rows.length < max) drainedAt = appendsBefore;
            return rows.map((row) => fromRow(row, partition));
          }
          // A wake that came while the read was queued would be lost by waiting now: read again instead.
          if ((this.#appends.get(key) ?? 0) === appendsBefore) await this.#wait(key, abort.signal);
        }
        return [];
      },
      commit: (seq) => offsets.commit(seq),
      close: async () => {
        closed = true;
        abort.abort();
        await offsets.close();
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

/**
 * One partition's group offset, written at most once per interval: under load a partition commits after
 * every small batch, and each write is a SQLite transaction of its own. Writes never overlap, so the
 * stored offset only moves forward.
 */
class DeferredOffset {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #write: (seq: number) => Promise<void>;
  #pending: number | undefined;
  #lastWriteAt = Number.NEGATIVE_INFINITY;
  #timer: TimerHandle | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(clock: Clock, intervalMs: number, write: (seq: number) => Promise<void>) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    this.#write = write;
  }

  commit(seq: number): Promise<void> {
    this.#pending = seq;
    const wait = this.#lastWriteAt + this.#intervalMs - this.#clock.monotonic();
    if (wait <= 0 || this.#closed) return this.flush();
    this.#timer ??= this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch(() => undefined); // a failed write leaves the offset behind: redelivery, not loss
    }, wait);
    return Promise.resolve();
  }

  /** Writes what is pending; from now on every commit is written at once (the reader is closing). */
  close(): Promise<void> {
    this.#closed = true;
    return this.flush();
  }

  /** Writes the pending offset now (after any write in progress). */
  flush(): Promise<void> {
    this.#timer?.cancel();
    this.#timer = undefined;
    // A failed earlier write must not block later ones; its caller already got the error.
    this.#writing = this.#writing
      .catch(() => undefined)
      .then(() => {
        const seq = this.#pending;
        if (seq === undefined) return;
        this.#pending = undefined;
        this.#lastWriteAt = this.#clock.monotonic();
        return this.#write(seq);
      });
    return this.#writing;
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

import type { PartitionReader, StoredMessage } from "../driver.ts";

/** A log row after its transaction committed, with the topic it went to. */
export interface CommittedRow extends StoredMessage {
  topic: string;
}

/** What a reader needs from its driver: a read of its partition in the database, and its offset store. */
export interface ReaderSource {
  /**
   * Up to `max` rows of the partition after `cursor`, and the log's highest sequence in the same
   * statement (every row of any partition up to it had committed when the rows were read).
   */
  read(cursor: number, max: number): Promise<{ rows: StoredMessage[]; top: number }>;
  commit(seq: number): Promise<void>;
  /** Writes this reader's pending offset now. */
  flush(): Promise<void>;
  closed(reader: LogReader): void;
}

/**
 * A reader's buffer of handed-over rows is capped: a consumer far behind reads from SQLite again (the
 * log is the buffer) instead of holding its backlog in memory.
 */
const MAX_BUFFERED = 4_096;

/**
 * One group's cursor over one partition. Rows come from two places: from SQLite, and straight from
 * transactions of this process that appended to the log, after they commit (so a reader does not re-read
 * a row its own process just wrote). A handed-over batch is trusted only when it says everything about
 * its range: `syncedTo` is the sequence up to which this reader knows every row of its partition
 * (delivered or buffered), and a batch of rows with consecutive sequences [a, b] holds every row of that
 * range, since a sequence belongs to one row. So the reader takes the batch only when a - 1 <= syncedTo;
 * otherwise another process wrote in between, and the reader reads SQLite.
 */
export class LogReader implements PartitionReader {
  readonly key: string;
  readonly #source: ReaderSource;
  #cursor: number;
  #syncedTo: number;
  /** Read SQLite before trusting anything: at open, nothing after the committed offset is known. */
  #mustRead = true;
  #buffer: StoredMessage[] = [];
  /** Set while a read is in flight: batches handed over meanwhile are applied after it. */
  #stashed: Array<{ mine: readonly StoredMessage[]; first: number; last: number }> | undefined;
  #latest: number;
  #closed = false;
  #wake: (() => void) | undefined;

  constructor(key: string, cursor: number, source: ReaderSource) {
    this.key = key;
    this.#cursor = cursor;
    this.#syncedTo = cursor;
    this.#latest = cursor;
    this.#source = source;
  }

  async next(max: number): Promise<StoredMessage[]> {
    while (!this.#closed) {
      if (this.#buffer.length > 0) {
        const out = this.#buffer.length <= max ? this.#buffer : this.#buffer.slice(0, max);
        this.#buffer = out === this.#buffer ? [] : this.#buffer.slice(max);
        this.#cursor = out[out.length - 1]!.offset;
        return out;
      }
      if (this.#mustRead || this.#latest > this.#syncedTo) {
        await this.#read(max);
        continue;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
    return [];
  }

  commit(offset: number): Promise<void> {
    return this.#source.commit(offset);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#notify();
    this.#source.closed(this);
    await this.#source.flush();
  }

  /** Something committed in this partition that was not handed over: read SQLite. */
  poke(): void {
    this.#mustRead = true;
    this.#notify();
  }

  /** The highest sequence known to be in this partition (an append here, or one another process made). */
  saw(seq: number): void {
    if (seq <= this.#latest) return;
    this.#latest = seq;
    if (seq > this.#syncedTo) this.#notify();
  }

  /**
   * A committed batch of this process whose sequences are the whole of [first, last]; `mine` holds its rows
   * of this partition, in order. Taken if the reader can trust it.
   */
  handOff(mine: readonly StoredMessage[], first: number, last: number): void {
    if (this.#stashed) {
      this.#stashed.push({ mine, first, last });
      return;
    }
    this.#apply(mine, first, last);
  }

  /** Another process may have appended; a poll found no row of this partition in (from, to]. */
  quietUpTo(from: number, to: number): void {
    if (this.#stashed || this.#mustRead || this.#syncedTo < from) return;
    if (to > this.#syncedTo) this.#syncedTo = to;
  }

  #apply(mine: readonly StoredMessage[], first: number, last: number): void {
    if (last <= this.#syncedTo) return;
    if (first - 1 > this.#syncedTo || this.#mustRead || this.#buffer.length >= MAX_BUFFERED) {
      for (const row of mine) this.saw(row.offset);
      return;
    }
    let added = false;
    for (const row of mine) {
      if (row.offset <= this.#syncedTo) continue;
      // Each group gets its own headers object: handlers of different groups must not share one.
      this.#buffer.push({ ...row, headers: { ...row.headers } });
      if (row.offset > this.#latest) this.#latest = row.offset;
      added = true;
    }
    this.#syncedTo = last;
    if (added) this.#notify();
  }

  async #read(max: number): Promise<void> {
    this.#stashed = [];
    // Cleared before the read: a poke that comes while it is in flight may be about a later commit.
    this.#mustRead = false;
    try {
      const { rows, top } = await this.#source.read(this.#cursor, max).catch((err: unknown) => {
        this.#mustRead = true;
        throw err;
      });
      this.#buffer = rows;
      // A full batch may have more behind it: known only up to its last row, and read on after it.
      const full = rows.length === max;
      const synced = full ? rows[rows.length - 1]!.offset : top;
      if (synced > this.#syncedTo) this.#syncedTo = synced;
      if (full) this.#mustRead = true;
      if (rows.length > 0 && rows[rows.length - 1]!.offset > this.#latest)
        this.#latest = rows[rows.length - 1]!.offset;
    } finally {
      const stashed = this.#stashed;
      this.#stashed = undefined;
      for (const { mine, first, last } of stashed ?? []) this.#apply(mine, first, last);
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

import { type Kysely, type QueryCreator, type RawBuilder, sql } from "kysely";
import { partitionOf } from "../../../platform/partitioning/index.ts";
import type { Store } from "../../../platform/storage/index.ts";
import type { AnalyticsConfig } from "../config.ts";
import {
  type AnomaliesTable,
  type LatestTradesTable,
  SHARD_NAMESPACE,
  type ShardDb,
  type SymbolsTable,
  shardMigrations,
  type WindowResultsTable,
} from "./schema.ts";

/** What one processor flush writes to one shard, in one transaction. */
export interface ShardWrites {
  symbols: SymbolsTable[];
  windows: WindowResultsTable[];
  latest: LatestTradesTable[];
  anomalies: AnomaliesTable[];
}

export function emptyWrites(): ShardWrites {
  return { symbols: [], windows: [], latest: [], anomalies: [] };
}

export interface ShardedStoreOptions {
  shards: readonly Store[];
  config: AnalyticsConfig["shards"];
}

/** Rows per SQLite INSERT: 17 columns × 400 stays under its 32 766 bound variables. */
const CHUNK = 400;

/**
 * The analytics results, spread over shards by exchange or asset class (`config.shards.by`): an explicit
 * `map` entry first, else a stable FNV-1a hash. Every write is an upsert, so replaying a stream after a
 * restart rewrites the same rows.
 */
export class ShardedStore {
  readonly shards: readonly Store<ShardDb>[];
  readonly by: "exchange" | "assetClass";
  readonly #map: Readonly<Record<string, number>>;
  readonly #bySymbol = new Map<string, number>();
  readonly #queues = new Map<string, ShardQueue>();

  constructor(options: ShardedStoreOptions) {
    if (options.shards.length !== options.config.count) {
      throw new Error(`expected ${options.config.count} shard stores, got ${options.shards.length}`);
    }
    for (const [value, index] of Object.entries(options.config.map)) {
      if (index >= options.config.count) {
        throw new Error(
          `analytics.shards.map.${value} = ${index}, but there are only ${options.config.count} shards`,
        );
      }
    }
    this.shards = options.shards as Store<ShardDb>[];
    this.by = options.config.by;
    this.#map = options.config.map;
  }

  /** The shard of an exchange (or asset class, when sharding by class). */
  shardIndexOf(exchangeOrClass: string): number {
    return this.#map[exchangeOrClass] ?? partitionOf(exchangeOrClass, this.shards.length);
  }

  /** The shard of a listing, by whichever attribute the store shards on. */
  shardIndexOfListing(listing: { exchange: string; assetClass: string }): number {
    return this.shardIndexOf(this.by === "exchange" ? listing.exchange : listing.assetClass);
  }

  /** The shard holding a symbol's rows, from the `symbols` tables; undefined for a symbol never seen. */
  async shardOfSymbol(symbol: string): Promise<Store<ShardDb> | undefined> {
    const index = await this.shardIndexOfSymbol(symbol);
    return index === undefined ? undefined : this.shards[index];
  }

  async shardIndexOfSymbol(symbol: string): Promise<number | undefined> {
    const known = this.#bySymbol.get(symbol);
    if (known !== undefined) return known;
    const found = await Promise.all(
      this.shards.map((s) =>
        s.db
          .selectFrom("symbols")
          .select(["exchange", "asset_class"])
          .where("symbol", "=", symbol)
          .executeTakeFirst(),
      ),
    );
    const row = found.find((r) => r !== undefined);
    if (!row) return undefined;
    const index = this.shardIndexOfListing({ exchange: row.exchange, assetClass: row.asset_class });
    this.#bySymbol.set(symbol, index);
    return index;
  }

  /**
   * Writes one shard's rows in one transaction. Rows with the same key keep the last one. Writes to a shard
   * that arrive in the same turn of the event loop, or while its previous write is in flight, go together
   * in one transaction: the partitions of a process flush at about the same moments (their watermarks move
   * together), and one transaction per shard instead of one per partition and shard is what keeps the
   * writes cheap enough to flush often. Each caller's promise settles with the transaction(s) holding its
   * rows.
   *
   * On Postgres a shard has two such queues, each on a connection of its own: closed windows and anomalies
   * in one, the symbols and latest trades in the other. A window result, which a dashboard waits for once a
   * second, then never queues behind a latest-trades upsert in flight (there is one every flush interval),
   * and its statement holds only the windows. The symbols go with the latest trades: a symbol's first
   * trade is stored with its listing, a second before its first window. On SQLite a statement runs
   * synchronously on the store's one connection, so there is nothing in flight to overtake: one queue.
   */
  write(shard: number, writes: ShardWrites): Promise<void> {
    if (!this.shards[shard]) return Promise.reject(new Error(`no shard ${shard}`));
    if (this.shards[shard]!.kind !== "postgres") return this.#enqueue(shard, "all", writes);
    const results = writes.windows.length + writes.anomalies.length > 0;
    const latest = writes.symbols.length + writes.latest.length > 0;
    if (!results || !latest) return this.#enqueue(shard, results ? "results" : "latest", writes);
    return Promise.all([
      this.#enqueue(shard, "results", {
        ...emptyWrites(),
        windows: writes.windows,
        anomalies: writes.anomalies,
      }),
      this.#enqueue(shard, "latest", { ...emptyWrites(), symbols: writes.symbols, latest: writes.latest }),
    ]).then(() => {});
  }

  #enqueue(shard: number, lane: Lane, writes: ShardWrites): Promise<void> {
    const key = `${shard}:${lane}`;
    let queue = this.#queues.get(key);
    if (!queue) {
      queue = { writes: [], waiters: [], busy: false };
      this.#queues.set(key, queue);
    }
    const q = queue;
    return new Promise<void>((resolve, reject) => {
      q.writes.push(writes);
      q.waiters.push({ resolve, reject });
      if (q.busy) return;
      q.busy = true;
      setImmediate(() => void this.#drain(shard, q));
    });
  }

  async #drain(shard: number, q: ShardQueue): Promise<void> {
    while (q.writes.length > 0) {
      const writes = q.writes;
      const waiters = q.waiters;
      q.writes = [];
      q.waiters = [];
      try {
        await this.#write(shard, writes.length === 1 ? writes[0]! : merged(writes));
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    }
    q.busy = false;
  }

  async #write(shard: number, writes: ShardWrites): Promise<void> {
    const store = this.shards[shard]!;
    const symbols = lastByKey(writes.symbols, (r) => r.symbol);
    const windows = lastByKey(
      writes.windows,
      (r) => `${r.symbol}\u0000${r.window_ms}\u0000${r.window_start}`,
    );
    const latest = newestBySymbol(writes.latest);
    const anomalies = lastByKey(
      writes.anomalies,
      (r) => `${r.symbol}\u0000${r.window_ms}\u0000${r.window_start}\u0000${r.kind}`,
    );
    if (symbols.length + windows.length + latest.length + anomalies.length === 0) return;
    if (store.kind === "postgres") {
      await pgUpsertAll(store.db, { symbols, windows, latest, anomalies });
    } else {
      const upserts = [
        ...[...chunks(symbols)].map((rows) => (db: Trx) => sqliteUpsert(db, SYMBOLS, rows)),
        ...[...chunks(windows)].map((rows) => (db: Trx) => sqliteUpsert(db, WINDOWS, rows)),
        ...[...chunks(latest)].map((rows) => (db: Trx) => sqliteUpsert(db, LATEST, rows)),
        ...[...chunks(anomalies)].map((rows) => (db: Trx) => sqliteUpsert(db, ANOMALIES, rows)),
      ];
      await store.db.transaction().execute(async (trx) => {
        for (const upsert of upserts) await upsert(trx).execute();
      });
    }
    for (const s of symbols) this.#bySymbol.set(s.symbol, shard);
  }

  /** Writes every shard's rows, the shards in parallel. */
  async writeAll(byShard: ReadonlyMap<number, ShardWrites>): Promise<void> {
    await Promise.all([...byShard].map(([shard, writes]) => this.write(shard, writes)));
  }
}

/** A shard's write queue: `all` on SQLite; on Postgres `results` (windows, anomalies) and `latest` (symbols, latest trades). */
type Lane = "all" | "results" | "latest";

interface ShardQueue {
  /** Waiting for the next transaction, in arrival order (so "the last one" of a key is the newest). */
  writes: ShardWrites[];
  waiters: { resolve(): void; reject(err: unknown): void }[];
  /** A transaction is scheduled or in flight. */
  busy: boolean;
}

function merged(all: readonly ShardWrites[]): ShardWrites {
  const out = emptyWrites();
  for (const w of all) {
    out.symbols.push(...w.symbols);
    out.windows.push(...w.windows);
    out.latest.push(...w.latest);
    out.anomalies.push(...w.anomalies);
  }
  return out;
}

/** Opens (through `open`, e.g. the runtime's openAuxStore) and migrates `analytics_shard_<i>` for every shard. */
export async function openShardedStore(options: {
  config: AnalyticsConfig["shards"];
  open: (name: string) => Promise<Store>;
}): Promise<ShardedStore> {
  const shards: Store[] = [];
  for (let i = 0; i < options.config.count; i++) {
    const store = await options.open(`analytics_shard_${i}`);
    await store.migrate(SHARD_NAMESPACE, shardMigrations);
    shards.push(store);
  }
  return new ShardedStore({ shards, config: options.config });
}

function* chunks<T>(rows: readonly T[]): Generator<T[]> {
  for (let i = 0; i < rows.length; i += CHUNK) yield rows.slice(i, i + CHUNK);
}

function lastByKey<T>(rows: readonly T[], key: (row: T) => string): T[] {
  if (rows.length < 2) return [...rows];
  const byKey = new Map<string, T>();
  for (const row of rows) byKey.set(key(row), row);
  return [...byKey.values()];
}

function newestBySymbol(rows: readonly LatestTradesTable[]): LatestTradesTable[] {
  const bySymbol = new Map<string, LatestTradesTable>();
  for (const row of rows) {
    const seen = bySymbol.get(row.symbol);
    if (!seen || row.ts >= seen.ts) bySymbol.set(row.symbol, row);
  }
  return [...bySymbol.values()];
}

type Trx = QueryCreator<ShardDb>;

/**
 * A shard table as both upserts write it: every column (with its Postgres array element type, for unnest), the
 * conflict key and what a conflict does. The one definition of each table's upsert, for SQLite and Postgres.
 */
interface UpsertTable<T> {
  name: keyof ShardDb & string;
  columns: readonly (readonly [column: keyof T & string, type: string])[];
  key: readonly (keyof T & string)[];
  /** `nothing`: a row already there stays; otherwise every non-key column is replaced, if `where` holds. */
  onConflict: "update" | "nothing";
  where?: RawBuilder<unknown>;
}

const SYMBOLS: UpsertTable<SymbolsTable> = {
  name: "symbols",
  columns: [
    ["symbol", "text"],
    ["exchange", "text"],
    ["asset_class", "text"],
  ],
  key: ["symbol"],
  onConflict: "nothing",
};

const WINDOWS: UpsertTable<WindowResultsTable> = {
  name: "window_results",
  columns: [
    ["symbol", "text"],
    ["window_ms", "int4"],
    ["window_start", "int8"],
    ["window_end", "int8"],
    ["exchange", "text"],
    ["asset_class", "text"],
    ["count", "int8"],
    ["volume", "float8"],
    ["vwap", "float8"],
    ["open", "float8"],
    ["high", "float8"],
    ["low", "float8"],
    ["close", "float8"],
    ["sma", "float8"],
    ["ema", "float8"],
    ["revision", "int4"],
    ["updated_at", "int8"],
  ],
  key: ["symbol", "window_ms", "window_start"],
  onConflict: "update",
};

const LATEST: UpsertTable<LatestTradesTable> = {
  name: "latest_trades",
  columns: [
    ["symbol", "text"],
    ["exchange", "text"],
    ["asset_class", "text"],
    ["trade_id", "int8"],
    ["price", "float8"],
    ["size", "float8"],
    ["ts", "int8"],
    ["updated_at", "int8"],
  ],
  key: ["symbol"],
  onConflict: "update",
  // The latest trade by event time: a late or replayed trade never replaces a newer one.
  where: sql`latest_trades.ts <= excluded.ts`,
};

const ANOMALIES: UpsertTable<AnomaliesTable> = {
  name: "anomalies",
  columns: [
    ["symbol", "text"],
    ["window_ms", "int4"],
    ["window_start", "int8"],
    ["kind", "text"],
    ["score", "float8"],
    ["value", "float8"],
    ["exchange", "text"],
    ["asset_class", "text"],
    ["at", "int8"],
  ],
  key: ["symbol", "window_ms", "window_start", "kind"],
  onConflict: "update",
};

/**
 * `INSERT … SELECT * FROM unnest($1::text[], $2::int8[], …) ON CONFLICT …`: one array parameter per column,
 * whatever the number of rows. A VALUES list of one parameter per cell (4,250 for 250 windows) made a
 * flush's statement 2–3 times slower to build, send, parse and plan (9 ms against 3.5 ms for 250 windows and
 * 250 latest trades on one shard, quiet machine), and needed chunking under the 65,535-parameter bound.
 */
/** `INSERT … VALUES (…), (…) ON CONFLICT …`, one parameter per cell (SQLite, in chunks of CHUNK rows). */
function sqliteUpsert<T>(db: Trx, table: UpsertTable<T>, rows: readonly T[]) {
  const insert = db.insertInto(table.name).values(rows as never);
  return insert.onConflict((oc) => {
    const target = oc.columns(table.key as never);
    if (table.onConflict === "nothing") return target.doNothing();
    const set = Object.fromEntries(
      table.columns.filter(([c]) => !table.key.includes(c)).map(([c]) => [c, sql.ref(`excluded.${c}`)]),
    );
    const update = target.doUpdateSet(set as never);
    return table.where ? update.where(table.where as never) : update;
  });
}

function pgUpsert<T>(table: UpsertTable<T>, rows: readonly T[]): RawBuilder<unknown> {
  const columns = table.columns.map(([c]) => sql.id(c));
  const arrays = table.columns.map(
    ([c, type]) => sql`${rows.map((r) => r[c as keyof T])}::${sql.raw(type)}[]`,
  );
  const key = sql.join(table.key.map((c) => sql.id(c)));
  const set = table.columns
    .filter(([c]) => !table.key.includes(c))
    .map(([c]) => sql`${sql.id(c)} = excluded.${sql.id(c)}`);
  const action =
    table.onConflict === "nothing"
      ? sql`do nothing`
      : sql`do update set ${sql.join(set)}${table.where ? sql` where ${table.where}` : sql``}`;
  return sql`insert into ${sql.id(table.name)} (${sql.join(columns)}) select * from unnest(${sql.join(arrays)}) on conflict (${key}) ${action}`;
}

/**
 * Every table's upsert in one statement, all but the last as data-modifying CTEs (`WITH u0 AS (…) …`):
 * atomic like a transaction, in one round trip instead of BEGIN, one per table and COMMIT. Postgres runs
 * every part exactly once whether or not the main query reads it. No two parts may touch the same row, and
 * no part the same row twice: each table's rows are deduplicated by key before.
 */
async function pgUpsertAll(db: Kysely<ShardDb>, writes: ShardWrites): Promise<void> {
  const parts = [
    writes.symbols.length > 0 ? pgUpsert(SYMBOLS, writes.symbols) : undefined,
    writes.windows.length > 0 ? pgUpsert(WINDOWS, writes.windows) : undefined,
    writes.latest.length > 0 ? pgUpsert(LATEST, writes.latest) : undefined,
    writes.anomalies.length > 0 ? pgUpsert(ANOMALIES, writes.anomalies) : undefined,
  ].filter((p) => p !== undefined);
  const last = parts.pop();
  if (!last) return;
  const ctes = parts.map((part, i) => sql`${sql.id(`u${i}`)} as (${part})`);
  await (ctes.length > 0 ? sql`with ${sql.join(ctes)} ${last}` : last).execute(db);
}

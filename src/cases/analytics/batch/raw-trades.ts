import { type Kysely, sql } from "kysely";
import type { Migration, Store } from "../../../platform/storage/index.ts";
import type { Trade } from "../feed/index.ts";

/** One trade as batch mode keeps it: every trade, as it arrived, for the periodic recompute. */
export interface RawTradesTable {
  symbol: string;
  trade_id: number;
  exchange: string;
  asset_class: string;
  price: number;
  size: number;
  ts: number;
  /** When the loader stored it (epoch ms): a backfill's swap keeps rows loaded while it ran. */
  loaded_at: number;
}

export interface RawDb {
  raw_trades: RawTradesTable;
}

export const RAW_NAMESPACE = "analytics-raw";
export const RAW_TABLE = "raw_trades";

// biome-ignore lint/suspicious/noExplicitAny: the table name varies (a backfill builds a fresh one).
type AnyDb = Kysely<any>;

/** Creates a raw-trades table; index names carry the table's, since both SQLite and Postgres scope them wider. */
export async function createRawTable(db: AnyDb, name: string): Promise<void> {
  await db.schema
    .createTable(name)
    .addColumn("symbol", "varchar(32)", (c) => c.notNull())
    .addColumn("trade_id", "bigint", (c) => c.notNull())
    .addColumn("exchange", "varchar(32)", (c) => c.notNull())
    .addColumn("asset_class", "varchar(16)", (c) => c.notNull())
    .addColumn("price", "double precision", (c) => c.notNull())
    .addColumn("size", "double precision", (c) => c.notNull())
    .addColumn("ts", "bigint", (c) => c.notNull())
    .addColumn("loaded_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint(`${name}_pk`, ["symbol", "trade_id"])
    .execute();
  await db.schema.createIndex(`${name}_ts`).on(name).column("ts").execute();
  await db.schema.createIndex(`${name}_loaded`).on(name).column("loaded_at").execute();
}

export const rawMigrations: Migration[] = [
  { id: "001_raw_trades", up: (db) => createRawTable(db, RAW_TABLE) },
];

/** Rows per INSERT: 8 columns × 1,000 stays under SQLite's 32,766 bound variables. */
const CHUNK = 1_000;

/** The raw trades store of batch mode. Inserts are idempotent by (symbol, trade_id): a redelivery adds nothing. */
export class RawTrades {
  readonly store: Store<RawDb>;

  constructor(store: Store) {
    this.store = store as Store<RawDb>;
  }

  static async open(store: Store): Promise<RawTrades> {
    await store.migrate(RAW_NAMESPACE, rawMigrations);
    return new RawTrades(store);
  }

  async insert(trades: readonly Trade[], loadedAt: number, table = RAW_TABLE): Promise<void> {
    const db = this.store.db as AnyDb;
    for (let i = 0; i < trades.length; i += CHUNK) {
      const rows = trades.slice(i, i + CHUNK).map((t) => ({
        symbol: t.symbol,
        trade_id: t.tradeId,
        exchange: t.exchange,
        asset_class: t.assetClass,
        price: t.price,
        size: t.size,
        ts: t.ts,
        loaded_at: loadedAt,
      }));
      await db
        .insertInto(table)
        .values(rows)
        .onConflict((oc) => oc.columns(["symbol", "trade_id"]).doNothing())
        .execute();
    }
  }

  async count(table = RAW_TABLE): Promise<number> {
    const row = await (this.store.db as AnyDb)
      .selectFrom(table)
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /**
   * Makes `next` the raw table: rows the live loader stored into the old table since `keepLoadedSince` are
   * copied over first (a backfill only reads the log up to when it caught up), then the old table goes.
   */
  async swap(next: string, keepLoadedSince: number): Promise<void> {
    await (this.store.db as AnyDb).transaction().execute(async (trx) => {
      await sql`insert into ${sql.table(next)} select * from ${sql.table(RAW_TABLE)} where loaded_at >= ${keepLoadedSince} on conflict do nothing`.execute(
        trx,
      );
      await trx.schema.dropTable(RAW_TABLE).execute();
      await trx.schema.alterTable(next).renameTo(RAW_TABLE).execute();
    });
  }
}

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { Kysely, sql } from "kysely";
import { BackgroundCheckpointer } from "./checkpointer.ts";
import { BulwarkSqliteDialect, createPgPool, createPostgresDialect, quoteIdent } from "./dialects.ts";
import { type NodeSqliteDatabase, openSqlite } from "./sqlite-database.ts";

export type StoreKind = "sqlite" | "postgres";

export type StoreConfig =
  | {
      kind: "sqlite";
      file: string;
      busyTimeoutMs?: number;
      /**
       * Checkpoint the write-ahead log from a worker thread instead of inside commits (see
       * BackgroundCheckpointer); for a store under sustained writes. Default false.
       */
      backgroundCheckpoints?: boolean;
    }
  | { kind: "postgres"; url: string; schema?: string; poolSize?: number };

/** One versioned schema change of a module. `id`s sort in application order within a namespace. */
export interface Migration {
  id: string;
  // biome-ignore lint/suspicious/noExplicitAny: migrations create the tables that later give the DB its type.
  up(db: Kysely<any>, kind: StoreKind): Promise<void>;
}

// biome-ignore lint/suspicious/noExplicitAny: callers choose their table types.
export interface Store<DB = any> {
  readonly kind: StoreKind;
  readonly db: Kysely<DB>;
  /**
   * Applies, once, the migrations of one module namespace (e.g. "messaging"), in order. Idempotent, and safe
   * when two processes start at once (Postgres advisory lock; SQLite BEGIN IMMEDIATE).
   */
  migrate(namespace: string, migrations: readonly Migration[]): Promise<string[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

// biome-ignore lint/suspicious/noExplicitAny: see Store.
export async function openStore<DB = any>(config: StoreConfig): Promise<Store<DB>> {
  if (config.kind === "sqlite") {
    if (config.file !== ":memory:") mkdirSync(dirname(config.file), { recursive: true });
    const background = config.backgroundCheckpoints === true && config.file !== ":memory:";
    const database = openSqlite(config.file, { busyTimeoutMs: config.busyTimeoutMs ?? 5_000 });
    // Left as a safety net, far above what the worker lets the log reach.
    if (background) database.raw.exec("PRAGMA wal_autocheckpoint = 20000");
    const db = new Kysely<DB>({ dialect: new BulwarkSqliteDialect({ database }) });
    const store = new KyselyStore(
      "sqlite",
      db,
      background ? new BackgroundCheckpointer(config.file) : undefined,
    );
    sqliteHandles.set(store, database);
    return store;
  }
  if (config.schema) {
    const admin = createPgPool(config.url, undefined, 1);
    try {
      await admin.query(`create schema if not exists ${quoteIdent(config.schema)}`);
    } catch (err) {
      // Two processes creating the same schema race on the catalog's unique index; the loser can go on.
      if ((err as { code?: string }).code !== "23505") throw err;
    } finally {
      await admin.end();
    }
  }
  const pool = createPgPool(config.url, config.schema, config.poolSize ?? 10);
  const db = new Kysely<DB>({ dialect: createPostgresDialect(pool) });
  return new KyselyStore("postgres", db);
}

const sqliteHandles = new WeakMap<Store, NodeSqliteDatabase>();

/**
 * The SQLite connection under a store (undefined on Postgres), for this module's own statements that need
 * no query builder. Use it only while holding the store's connection (`db.connection().execute`), where
 * Kysely's mutex keeps every other query off it.
 */
export function sqliteHandleOf(store: Store): NodeSqliteDatabase | undefined {
  return sqliteHandles.get(store);
}

const heldConnections = new WeakMap<object, NodeSqliteDatabase>();

/**
 * Marks `db`, a handle bound to one SQLite connection, as holding that connection exclusively until
 * `release` (a group commit's unit): statements given it may then run on the connection directly
 * (PreparedStatement) instead of through Kysely's executor, which would only find it held anyway.
 */
export function holdSqliteConnection(db: object, connection: NodeSqliteDatabase): { release(): void } {
  heldConnections.set(db, connection);
  return { release: () => heldConnections.delete(db) };
}

export function sqliteConnectionHeldBy(db: object): NodeSqliteDatabase | undefined {
  return heldConnections.get(db);
}

class KyselyStore<DB> implements Store<DB> {
  readonly kind: StoreKind;
  readonly db: Kysely<DB>;
  readonly #checkpointer: BackgroundCheckpointer | undefined;
  #closed = false;

  constructor(kind: StoreKind, db: Kysely<DB>, checkpointer?: BackgroundCheckpointer) {
    this.kind = kind;
    this.db = db;
    this.#checkpointer = checkpointer;
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#checkpointer?.close();
    await this.db.destroy();
  }

  async migrate(namespace: string, migrations: readonly Migration[]): Promise<string[]> {
    const ids = migrations.map((m) => m.id);
    if (new Set(ids).size !== ids.length) throw new Error(`duplicate migration id in namespace ${namespace}`);
    return this.db.connection().execute(async (conn) => {
      if (this.kind === "postgres") {
        await sql`select pg_advisory_lock(hashtext(current_schema() || ':bulwark_migrations'))`.execute(conn);
        try {
          await ensureMigrationsTable(conn);
          return await applyPending(this.kind, namespace, migrations, async (fn) =>
            conn.transaction().execute(fn),
          );
        } finally {
          await sql`select pg_advisory_unlock(hashtext(current_schema() || ':bulwark_migrations'))`.execute(
            conn,
          );
        }
      }
      await ensureMigrationsTable(conn);
      // SQLite: each migration in its own IMMEDIATE transaction; a second process waits on the busy timeout
      // and then sees the migration already recorded.
      return applyPending(this.kind, namespace, migrations, async (fn) => {
        await sql`begin immediate`.execute(conn);
        try {
          const result = await fn(conn);
          await sql`commit`.execute(conn);
          return result;
        } catch (err) {
          await sql`rollback`.execute(conn);
          throw err;
        }
      });
    });
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the migrations table is internal.
type AnyDb = Kysely<any>;

async function ensureMigrationsTable(db: AnyDb): Promise<void> {
  await db.schema
    .createTable("bulwark_migrations")
    .ifNotExists()
    .addColumn("namespace", "varchar(100)", (c) => c.notNull())
    .addColumn("id", "varchar(200)", (c) => c.notNull())
    .addColumn("applied_at", "varchar(40)", (c) => c.notNull())
    .addPrimaryKeyConstraint("bulwark_migrations_pk", ["namespace", "id"])
    .execute()
    .catch((err: { code?: string }) => {
      // Postgres: "create table if not exists" can still collide when two sessions create it at once.
      if (err.code !== "23505" && err.code !== "42P07") throw err;
    });
}

async function applyPending(
  kind: StoreKind,
  namespace: string,
  migrations: readonly Migration[],
  inTransaction: <T>(fn: (trx: AnyDb) => Promise<T>) => Promise<T>,
): Promise<string[]> {
  const applied: string[] = [];
  for (const migration of migrations) {
    const done = await inTransaction(async (trx) => {
      const existing = await trx
        .selectFrom("bulwark_migrations")
        .select("id")
        .where("namespace", "=", namespace)
        .where("id", "=", migration.id)
        .executeTakeFirst();
      if (existing) return false;
      await migration.up(trx, kind);
      await trx
        .insertInto("bulwark_migrations")
        .values({ namespace, id: migration.id, applied_at: new Date().toISOString() })
        .execute();
      return true;
    });
    if (done) applied.push(migration.id);
  }
  return applied;
}

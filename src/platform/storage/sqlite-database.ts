import { DatabaseSync } from "node:sqlite";
import type { SqliteDatabase, SqliteStatement } from "kysely";

/**
 * Presents `node:sqlite`'s DatabaseSync in the better-sqlite3 shape that Kysely's SqliteDialect expects.
 * node:sqlite ships with Node 24, so the embedded profile needs no native addon.
 */
export class NodeSqliteDatabase implements SqliteDatabase {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, SqliteStatement>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  get raw(): DatabaseSync {
    return this.#db;
  }

  close(): void {
    this.#statements.clear();
    this.#db.close();
  }

  prepare(sql: string): SqliteStatement {
    const cached = this.#statements.get(sql);
    if (cached) return cached;
    const prepared = this.#db.prepare(sql);
    const statement: SqliteStatement = {
      // columns() builds an array of descriptors per call: asked once per statement, not per execution.
      reader: prepared.columns().length > 0,
      all: (parameters) => prepared.all(...(parameters as SqlParam[])) as unknown[],
      run: (parameters) => {
        const result = prepared.run(...(parameters as SqlParam[]));
        return { changes: result.changes, lastInsertRowid: result.lastInsertRowid };
      },
      iterate: (parameters) => prepared.iterate(...(parameters as SqlParam[])) as IterableIterator<unknown>,
    };
    // Statement text repeats heavily (one per query shape), so caching saves a prepare per call.
    if (this.#statements.size < 500) this.#statements.set(sql, statement);
    return statement;
  }
}

type SqlParam = null | number | bigint | string | NodeJS.ArrayBufferView;

export interface SqliteOpenOptions {
  busyTimeoutMs?: number;
}

export function openSqlite(
  file: string,
  { busyTimeoutMs = 5_000 }: SqliteOpenOptions = {},
): NodeSqliteDatabase {
  const db = new DatabaseSync(file, { timeout: busyTimeoutMs });
  if (file !== ":memory:") db.exec("PRAGMA journal_mode = WAL");
  // NORMAL in WAL mode loses no committed transaction on a process crash, only on power loss.
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA foreign_keys = ON");
  return new NodeSqliteDatabase(db);
}

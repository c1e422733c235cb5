import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  PostgresDialect,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from "kysely";
import pg from "pg";

/**
 * SQLite's default deferred BEGIN takes the write lock only at the first write, and in WAL mode a
 * reader that then tries to write fails with SQLITE_BUSY without waiting. Every Bulwark transaction
 * writes, so take the lock up front, where the busy timeout applies.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }
}

export class BulwarkSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

// int8 (bigint, count(*)) and numeric arrive as strings by default; Bulwark's values fit in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number.parseFloat(v));

export function createPgPool(url: string, schema: string | undefined, poolSize: number): pg.Pool {
  return new pg.Pool({
    connectionString: url,
    max: poolSize,
    // search_path per connection keeps each suite or tenant in its own schema with unqualified SQL.
    ...(schema ? { options: `-c search_path=${quoteIdent(schema)}` } : {}),
  });
}

export function createPostgresDialect(pool: pg.Pool): PostgresDialect {
  return new PostgresDialect({ pool });
}

export function quoteIdent(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) {
    throw new Error(`invalid SQL identifier ${JSON.stringify(name)}: use letters, digits and _ (max 63)`);
  }
  return `"${name}"`;
}

import { type Compilable, CompiledQuery, type Kysely, type QueryResult } from "kysely";
import { sqliteConnectionHeldBy } from "./store.ts";

/** Stands for one bound value of a prepared statement; see {@link prepare}. */
class Parameter {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
}

/** `p("name")` in a prepared statement's builder: the value bound as `name` at each run. */
export type Placeholders<P> = <K extends keyof P & string>(name: K) => P[K];

interface Compiled {
  sql: string;
  /** The compiled statement's parameters: a name to bind from the run's values, or a constant kept as built. */
  slots: ReadonlyArray<{ name: string } | { value: unknown }>;
}

/**
 * A statement written once with Kysely's builder and compiled once per dialect, then run with new values.
 * On a hot path the builder and compiler cost several times the statement itself: an inbox insert on
 * SQLite took 11 µs built each time, 4 µs compiled once and run through Kysely, 1.7 µs straight on the
 * connection (docs/BENCHMARKS.md, commerce session 9). A group commit's unit gets that last path: its
 * connection is held for it (see GroupCommit), so the statement runs on it directly.
 *
 * `p("name")` stands for a value wherever the builder takes one. Values are bound as they are (a
 * parameter is one scalar: no arrays for `in`), and the statement is compiled without the caller's
 * plugins, so not for use with `withSchema` or a plugin that rewrites queries.
 */
export function prepare<P extends object, R = unknown>(
  // biome-ignore lint/suspicious/noExplicitAny: each statement sees its caller's table types.
  build: (db: Kysely<any>, p: Placeholders<P>) => Compilable<R>,
): PreparedStatement<P, R> {
  return new PreparedStatement(build);
}

export class PreparedStatement<P extends object, R> {
  // biome-ignore lint/suspicious/noExplicitAny: see prepare.
  readonly #build: (db: Kysely<any>, p: Placeholders<P>) => Compilable<R>;
  /** Per dialect adapter class: SQLite and Postgres compile differently (placeholders, quoting). */
  readonly #compiled = new Map<unknown, Compiled>();

  // biome-ignore lint/suspicious/noExplicitAny: see prepare.
  constructor(build: (db: Kysely<any>, p: Placeholders<P>) => Compilable<R>) {
    this.#build = build;
  }

  /** Runs the statement on `db` (a store's Kysely or a transaction) with `values` bound by name. */
  // biome-ignore lint/suspicious/noExplicitAny: any table types.
  async execute(db: Kysely<any>, values: P): Promise<QueryResult<R>> {
    const compiled = this.#compiledFor(db);
    const parameters = compiled.slots.map((slot) => {
      if (!("name" in slot)) return slot.value;
      const value = (values as Record<string, unknown>)[slot.name];
      if (value === undefined) throw new TypeError(`prepared statement: no value for "${slot.name}"`);
      return value;
    });
    const connection = sqliteConnectionHeldBy(db);
    if (!connection) return db.executeQuery<R>(CompiledQuery.raw(compiled.sql, parameters));
    // What Kysely's SQLite driver returns for the same statement, without its executor around it.
    const statement = connection.prepare(compiled.sql);
    if (statement.reader) return { rows: statement.all(parameters) as R[] };
    const { changes, lastInsertRowid } = statement.run(parameters);
    return {
      numAffectedRows: BigInt(changes),
      insertId: lastInsertRowid === undefined ? undefined : BigInt(lastInsertRowid),
      rows: [],
    };
  }

  /** The first row, or undefined. */
  // biome-ignore lint/suspicious/noExplicitAny: any table types.
  async first(db: Kysely<any>, values: P): Promise<R | undefined> {
    return (await this.execute(db, values)).rows[0];
  }

  // biome-ignore lint/suspicious/noExplicitAny: any table types.
  #compiledFor(db: Kysely<any>): Compiled {
    const dialect = db.getExecutor().adapter.constructor;
    const known = this.#compiled.get(dialect);
    if (known) return known;
    const query = this.#build(db, ((name: string) => new Parameter(name)) as Placeholders<P>).compile();
    const compiled: Compiled = {
      sql: query.sql,
      slots: query.parameters.map((value) => (value instanceof Parameter ? { name: value.name } : { value })),
    };
    this.#compiled.set(dialect, compiled);
    return compiled;
  }
}

import { type Kysely, type KyselyPlugin, sql, type Transaction } from "kysely";
import type { NodeSqliteDatabase } from "./sqlite-database.ts";
import { holdSqliteConnection, type Store, sqliteHandleOf } from "./store.ts";

export interface GroupCommitOptions {
  /** Units of work at most in one transaction. Default 64. */
  maxUnits?: number;
  /**
   * Called once per unit that committed, with the transaction handle it ran on, in the order the units
   * ran and before any caller resumes. Callers' continuations resume in an order of their own (one path may
   * await more often than another), so work that must follow commit order (handing log rows to readers,
   * which trust a batch only if it follows the last one they saw) belongs here.
   */
  // biome-ignore lint/suspicious/noExplicitAny: each unit sees its caller's table types.
  committed?: (trx: Transaction<any>) => void;
}

const NO_OP: KyselyPlugin = {
  transformQuery: (args) => args.node,
  transformResult: async (args) => args.result,
};

interface Unit {
  // biome-ignore lint/suspicious/noExplicitAny: each unit sees its caller's table types.
  fn: (trx: Transaction<any>) => Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Runs units of work as transactions, and on SQLite lets the units that are waiting at the same moment
 * share one: each unit runs in its own SAVEPOINT (a unit that fails rolls back only its own writes and
 * gets its error), and one COMMIT makes them all durable. Nothing of a unit is reported done before that
 * commit, so a crash loses only units nobody was told about. SQLite has one writer and one connection per
 * store anyway, so the units ran one after another before too; what they no longer pay is a commit each,
 * the dearest statement of a small transaction.
 *
 * On Postgres every unit stays its own transaction: there transactions run side by side, and tying
 * unrelated units together would make them wait on each other's row locks (two orders taking the same
 * SKUs in different orders could deadlock).
 */
export class GroupCommit {
  readonly #store: Store;
  readonly #maxUnits: number;
  readonly #committed: ((trx: Transaction<unknown>) => void) | undefined;
  readonly #queue: Unit[] = [];
  #running = false;

  constructor(store: Store, options: GroupCommitOptions = {}) {
    this.#store = store;
    this.#maxUnits = options.maxUnits ?? 64;
    this.#committed = options.committed;
  }

  /**
   * Runs `fn` in a transaction (maybe shared, see the class) and resolves with its result once committed.
   * `fn` must use only `trx` for the store's tables: the connection is held by the group meanwhile.
   */
  // biome-ignore lint/suspicious/noExplicitAny: callers choose their table types.
  transaction<T, DB = any>(fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
    if (this.#store.kind !== "sqlite") {
      const committed = this.#committed;
      const run = (this.#store.db as Kysely<DB>).transaction();
      if (!committed) return run.execute(fn);
      let handle: Transaction<DB> | undefined;
      return run
        .execute((trx) => {
          handle = trx;
          return fn(trx);
        })
        .then((value) => {
          committed(handle as Transaction<unknown>);
          return value;
        });
    }
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn: fn as Unit["fn"], resolve: resolve as Unit["resolve"], reject });
      if (this.#running) return;
      this.#running = true;
      // Units started by the I/O callbacks of one event-loop turn (HTTP responses, socket reads) arrive
      // one callback at a time: waiting for the turn's end lets them share the commit.
      setImmediate(() => this.#run());
    });
  }

  /**
   * Runs statements that are each safe on their own, which would otherwise commit one by one (autocommit).
   * On SQLite they join a group (one commit for the lot, see the class); elsewhere they run as they are,
   * since a transaction of their own would only add round trips. Not for use inside a unit of this group.
   */
  // biome-ignore lint/suspicious/noExplicitAny: callers choose their table types.
  statements<T, DB = any>(fn: (db: Kysely<DB>) => Promise<T>): Promise<T> {
    if (this.#store.kind !== "sqlite") return fn(this.#store.db as Kysely<DB>);
    return this.transaction<T, DB>(fn);
  }

  #run(): void {
    this.#running = true;
    this.#group()
      .catch(() => undefined) // every unit of the group got the error already
      .finally(() => {
        this.#running = false;
        if (this.#queue.length > 0) this.#run();
      });
  }

  async #group(): Promise<void> {
    const done: Array<{ unit: Unit; value: unknown; trx: Transaction<unknown> }> = [];
    const failed: Array<{ unit: Unit; error: unknown }> = [];
    const taken: Unit[] = [];
    try {
      await this.#store.db.connection().execute(async (conn) => {
        // The group's own statements go straight to SQLite: through Kysely each cost about five times the
        // statement itself, and a group runs two per unit.
        const handle = sqliteHandleOf(this.#store);
        const exec = rawExec(handle, conn);
        await exec("begin immediate");
        try {
          // Units that arrive while the group runs join it, up to maxUnits.
          while (this.#queue.length > 0 && taken.length < this.#maxUnits) {
            const unit = this.#queue.shift()!;
            taken.push(unit);
            await exec("savepoint bwk_unit");
            try {
              // Each unit gets its own handle on the connection: callers key per-transaction state by it
              // (the outbox's rows to hand over), and a unit rolled back must not share that with the rest.
              const trx = conn.withPlugin(NO_OP) as unknown as Transaction<unknown>;
              const held = handle && holdSqliteConnection(trx, handle);
              let value: unknown;
              try {
                value = await unit.fn(trx);
              } finally {
                held?.release();
              }
              await exec("release bwk_unit");
              done.push({ unit, value, trx });
            } catch (error) {
              await exec("rollback to bwk_unit");
              await exec("release bwk_unit");
              failed.push({ unit, error });
            }
          }
          await exec("commit");
        } catch (error) {
          await exec("rollback").catch(() => undefined);
          throw error;
        }
      });
    } catch (error) {
      // The commit (or the transaction itself) failed: no unit of the group happened.
      for (const unit of taken) unit.reject(error);
      throw error;
    }
    for (const { trx } of done) {
      try {
        this.#committed?.(trx);
      } catch (error) {
        // The units did commit, so they still resolve; a failing listener is a bug to surface, not their error.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    for (const { unit, error } of failed) unit.reject(error);
    for (const { unit, value } of done) unit.resolve(value);
  }
}

/** Runs a statement with no parameters on the group's connection: on SQLite's handle when there is one. */
function rawExec(
  handle: NodeSqliteDatabase | undefined,
  conn: Kysely<unknown>,
): (statement: string) => Promise<void> {
  if (!handle) return async (statement) => void (await sql.raw(statement).execute(conn));
  return async (statement) => handle.raw.exec(statement);
}

import { type Kysely, sql } from "kysely";
import type { Migration, Store } from "../../../platform/storage/index.ts";

export interface CheckpointsTable {
  grp: string;
  partition_id: number;
  /** The member working the partition; with `epoch`, what fences a previous owner's late checkpoint. */
  owner: string;
  epoch: number;
  /** Last source offset whose effects the state includes; -1 before the first checkpoint. */
  source_offset: number;
  /** JSON: the operator snapshot and the symbols' listings, or null before the first checkpoint. */
  state: string | null;
  updated_at: number;
}

interface CheckpointDb {
  analytics_checkpoints: CheckpointsTable;
}

export const CHECKPOINT_NAMESPACE = "analytics-processor";

export const checkpointMigrations: Migration[] = [
  {
    id: "001_checkpoints",
    async up(db) {
      await db.schema
        .createTable("analytics_checkpoints")
        .addColumn("grp", "varchar(100)", (c) => c.notNull())
        .addColumn("partition_id", "integer", (c) => c.notNull())
        .addColumn("owner", "varchar(100)", (c) => c.notNull())
        .addColumn("epoch", "integer", (c) => c.notNull())
        .addColumn("source_offset", "bigint", (c) => c.notNull())
        .addColumn("state", "text")
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("analytics_checkpoints_pk", ["grp", "partition_id"])
        .execute();
    },
  },
  {
    id: "002_state_lz4",
    async up(db, kind) {
      // A checkpoint's state is 100-300 kB, saved about once a second per partition. Postgres's default
      // TOAST compression (pglz) took 5.4 ms of server CPU per 200 kB state here, lz4 0.9 ms for 13% more
      // bytes (docs/BENCHMARKS.md, analytics session 9). Only where the server was built with lz4; SQLite
      // does not compress.
      if (kind !== "postgres") return;
      const { rows } = await sql<{ lz4: boolean }>`select 'lz4' = any(enumvals) as lz4 from pg_settings
        where name = 'default_toast_compression'`.execute(db);
      if (rows[0]?.lz4)
        await sql`alter table analytics_checkpoints alter column state set compression lz4`.execute(db);
    },
  },
];

export interface Claimed {
  epoch: number;
  offset: number;
  state: string | null;
}

/**
 * The processor's checkpoints in the main store: per (group, partition) the operator state and the source
 * offset it includes, written in one statement (so atomically). Taking a partition bumps its epoch; a
 * checkpoint only lands while the epoch is still the writer's, so a fenced-out former owner cannot overwrite
 * the new owner's progress.
 */
export class CheckpointStore {
  readonly #db: Kysely<CheckpointDb>;

  constructor(store: Store) {
    this.#db = store.db as Kysely<CheckpointDb>;
  }

  static async migrate(store: Store): Promise<void> {
    await store.migrate(CHECKPOINT_NAMESPACE, checkpointMigrations);
  }

  async claim(group: string, partition: number, owner: string, now: number): Promise<Claimed> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom("analytics_checkpoints")
        .select(["epoch", "source_offset", "state"])
        .where("grp", "=", group)
        .where("partition_id", "=", partition)
        .executeTakeFirst();
      const epoch = (row?.epoch ?? 0) + 1;
      if (row) {
        await trx
          .updateTable("analytics_checkpoints")
          .set({ owner, epoch, updated_at: now })
          .where("grp", "=", group)
          .where("partition_id", "=", partition)
          .execute();
      } else {
        await trx
          .insertInto("analytics_checkpoints")
          .values({
            grp: group,
            partition_id: partition,
            owner,
            epoch,
            source_offset: -1,
            state: null,
            updated_at: now,
          })
          .execute();
      }
      return { epoch, offset: row?.source_offset ?? -1, state: row?.state ?? null };
    });
  }

  /** Stores state and offset together; false when another owner claimed the partition since (fenced). */
  async save(
    group: string,
    partition: number,
    epoch: number,
    offset: number,
    state: string,
    now: number,
  ): Promise<boolean> {
    const result = await this.#db
      .updateTable("analytics_checkpoints")
      .set({ source_offset: offset, state, updated_at: now })
      .where("grp", "=", group)
      .where("partition_id", "=", partition)
      .where("epoch", "=", epoch)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async read(
    group: string,
  ): Promise<Pick<CheckpointsTable, "partition_id" | "owner" | "epoch" | "source_offset">[]> {
    return this.#db
      .selectFrom("analytics_checkpoints")
      .select(["partition_id", "owner", "epoch", "source_offset"])
      .where("grp", "=", group)
      .orderBy("partition_id")
      .execute();
  }
}

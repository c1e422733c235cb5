import type { Migration } from "../storage/index.ts";

export interface IdempotencyKeysTable {
  scope: string;
  key: string;
  fingerprint: string;
  /** "started" while the first request runs; "finished" once its response is stored. */
  recovery_point: string;
  response_status: number | null;
  response_body: string | null;
  response_type: string | null;
  locked_at: number;
  created_at: number;
  expires_at: number;
}

export interface IdempotencyDb {
  idempotency_keys: IdempotencyKeysTable;
}

export const idempotencyMigrations: Migration[] = [
  {
    id: "001_idempotency_keys",
    async up(db) {
      await db.schema
        .createTable("idempotency_keys")
        .addColumn("scope", "varchar(100)", (c) => c.notNull())
        .addColumn("key", "varchar(255)", (c) => c.notNull())
        .addColumn("fingerprint", "varchar(64)", (c) => c.notNull())
        .addColumn("recovery_point", "varchar(50)", (c) => c.notNull())
        .addColumn("response_status", "integer")
        .addColumn("response_body", "text")
        .addColumn("response_type", "varchar(200)")
        .addColumn("locked_at", "bigint", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("idempotency_keys_pk", ["scope", "key"])
        .execute();
      await db.schema
        .createIndex("idempotency_keys_expiry")
        .on("idempotency_keys")
        .column("expires_at")
        .execute();
    },
  },
];

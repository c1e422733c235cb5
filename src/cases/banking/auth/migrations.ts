import type { Migration } from "../../../platform/storage/index.ts";

export interface CustomersTable {
  id: string;
  name: string;
  created_at: number;
}

export interface ClientsTable {
  client_id: string;
  customer_id: string;
  /** `scrypt$<salt b64url>$<hash b64url>`: the secret itself is never stored. */
  secret_hash: string;
  created_at: number;
}

/** The generated development signing key, shared by every auth process (unused when one is configured). */
export interface SigningKeysTable {
  slot: string;
  kid: string;
  alg: string;
  private_jwk: string;
  public_jwk: string;
  created_at: number;
}

export interface RevocationsTable {
  jti: string;
  revoked_at: number;
  /** After this the token has expired anyway, and the row can go. */
  expires_at: number;
}

export interface AuthDb {
  bank_customers: CustomersTable;
  bank_clients: ClientsTable;
  bank_signing_keys: SigningKeysTable;
  bank_revocations: RevocationsTable;
}

export const authMigrations: Migration[] = [
  {
    id: "auth_001",
    async up(db) {
      await db.schema
        .createTable("bank_customers")
        .addColumn("id", "varchar(64)", (c) => c.primaryKey())
        .addColumn("name", "varchar(200)", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("bank_clients")
        .addColumn("client_id", "varchar(64)", (c) => c.primaryKey())
        .addColumn("customer_id", "varchar(64)", (c) => c.notNull())
        .addColumn("secret_hash", "varchar(300)", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("bank_signing_keys")
        .addColumn("slot", "varchar(20)", (c) => c.primaryKey())
        .addColumn("kid", "varchar(100)", (c) => c.notNull())
        .addColumn("alg", "varchar(20)", (c) => c.notNull())
        .addColumn("private_jwk", "text", (c) => c.notNull())
        .addColumn("public_jwk", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("bank_revocations")
        .addColumn("jti", "varchar(64)", (c) => c.primaryKey())
        .addColumn("revoked_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("bank_revocations_revoked_at")
        .on("bank_revocations")
        .column("revoked_at")
        .execute();
    },
  },
];

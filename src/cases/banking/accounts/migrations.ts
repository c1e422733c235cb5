import type { Generated } from "kysely";
import type { Migration } from "../../../platform/storage/index.ts";

export interface AccountsTable {
  id: string;
  customer_id: string;
  currency: string;
  balance_cents: number;
  /** How far below zero the balance may go (0: no overdraft). */
  overdraft_limit_cents: number;
  /** The deposit the account was opened with: the checker's money-conservation baseline. */
  opening_cents: number;
  created_at: number;
  updated_at: number;
}

export interface TransfersTable {
  id: string;
  /** `<customerId>:<Idempotency-Key>`, unique: a transfer runs once per key even if two attempts race. */
  idempotency_key: string | null;
  customer_id: string;
  from_account_id: string;
  to_account_id: string;
  amount_cents: number;
  reference: string | null;
  created_at: number;
}

/** One side of a transfer: a debit (negative) on the source, a credit (positive) on the destination. */
export interface EntriesTable {
  /** Insertion order: history pages by it, so same-millisecond entries keep their order. */
  seq: Generated<number>;
  id: string;
  transfer_id: string;
  account_id: string;
  amount_cents: number;
  counterparty_account_id: string;
  reference: string | null;
  at: number;
}

export interface LedgerDb {
  bank_accounts: AccountsTable;
  bank_transfers: TransfersTable;
  bank_entries: EntriesTable;
}

export const ledgerMigrations: Migration[] = [
  {
    id: "ledger_001",
    async up(db, kind) {
      await db.schema
        .createTable("bank_accounts")
        .addColumn("id", "varchar(64)", (c) => c.primaryKey())
        .addColumn("customer_id", "varchar(64)", (c) => c.notNull())
        .addColumn("currency", "varchar(3)", (c) => c.notNull())
        .addColumn("balance_cents", "bigint", (c) => c.notNull())
        .addColumn("overdraft_limit_cents", "bigint", (c) => c.notNull())
        .addColumn("opening_cents", "bigint", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("bank_accounts_customer")
        .on("bank_accounts")
        .column("customer_id")
        .execute();
      await db.schema
        .createTable("bank_transfers")
        .addColumn("id", "varchar(64)", (c) => c.primaryKey())
        .addColumn("idempotency_key", "varchar(400)", (c) => c.unique())
        .addColumn("customer_id", "varchar(64)", (c) => c.notNull())
        .addColumn("from_account_id", "varchar(64)", (c) => c.notNull())
        .addColumn("to_account_id", "varchar(64)", (c) => c.notNull())
        .addColumn("amount_cents", "bigint", (c) => c.notNull())
        .addColumn("reference", "varchar(140)")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("bank_entries")
        .addColumn("seq", kind === "postgres" ? "bigserial" : "integer", (c) =>
          kind === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn("id", "varchar(80)", (c) => c.notNull().unique())
        .addColumn("transfer_id", "varchar(64)", (c) => c.notNull())
        .addColumn("account_id", "varchar(64)", (c) => c.notNull())
        .addColumn("amount_cents", "bigint", (c) => c.notNull())
        .addColumn("counterparty_account_id", "varchar(64)", (c) => c.notNull())
        .addColumn("reference", "varchar(140)")
        .addColumn("at", "bigint", (c) => c.notNull())
        .execute();
      // History pages an account's entries newest first by seq: the keyset index.
      await db.schema
        .createIndex("bank_entries_account_seq")
        .on("bank_entries")
        .columns(["account_id", "seq"])
        .execute();
      await db.schema.createIndex("bank_entries_transfer").on("bank_entries").column("transfer_id").execute();
    },
  },
];

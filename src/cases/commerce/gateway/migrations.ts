import type { Migration } from "../../../platform/storage/index.ts";

export interface GatewayChargesTable {
  id: string;
  idempotency_key: string | null;
  amount_cents: number;
  currency: string;
  source: string;
  reference: string | null;
  /** succeeded (captured) or declined. */
  status: string;
  refunded_cents: number;
  created_at: number;
}

export interface GatewayRefundsTable {
  id: string;
  charge_id: string;
  idempotency_key: string | null;
  amount_cents: number;
  created_at: number;
}

export interface GatewayDb {
  gw_charges: GatewayChargesTable;
  gw_refunds: GatewayRefundsTable;
}

export const gatewayMigrations: Migration[] = [
  {
    id: "001_ledger",
    async up(db) {
      await db.schema
        .createTable("gw_charges")
        .addColumn("id", "varchar(40)", (c) => c.primaryKey())
        .addColumn("idempotency_key", "varchar(255)", (c) => c.unique())
        .addColumn("amount_cents", "bigint", (c) => c.notNull())
        .addColumn("currency", "varchar(3)", (c) => c.notNull())
        .addColumn("source", "varchar(80)", (c) => c.notNull())
        .addColumn("reference", "varchar(100)")
        .addColumn("status", "varchar(20)", (c) => c.notNull())
        .addColumn("refunded_cents", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("gw_charges_reference").on("gw_charges").column("reference").execute();
      await db.schema
        .createTable("gw_refunds")
        .addColumn("id", "varchar(40)", (c) => c.primaryKey())
        .addColumn("charge_id", "varchar(40)", (c) => c.notNull().references("gw_charges.id"))
        .addColumn("idempotency_key", "varchar(255)", (c) => c.unique())
        .addColumn("amount_cents", "bigint", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
    },
  },
];

import type { Migration } from "../../../platform/storage/index.ts";

export interface PaymentsTable {
  order_id: string;
  amount_cents: number;
  /**
   * charging, captured, failed, refunded, abandoned (the order was cancelled before the charge finished), or
   * void (abandoned, and the gateway confirmed no charge was taken).
   */
  status: string;
  charge_id: string | null;
  refund_id: string | null;
  reason: string | null;
  attempts: number;
  created_at: number;
  updated_at: number;
}

export interface PaymentDb {
  pay_payments: PaymentsTable;
}

export const paymentMigrations: Migration[] = [
  {
    id: "001_payments",
    async up(db) {
      await db.schema
        .createTable("pay_payments")
        .addColumn("order_id", "varchar(64)", (c) => c.primaryKey())
        .addColumn("amount_cents", "bigint", (c) => c.notNull())
        .addColumn("status", "varchar(16)", (c) => c.notNull())
        .addColumn("charge_id", "varchar(64)")
        .addColumn("refund_id", "varchar(64)")
        .addColumn("reason", "varchar(200)")
        .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
    },
  },
];

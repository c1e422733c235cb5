import { sql } from "kysely";
import type { Migration } from "../../../platform/storage/index.ts";

export interface ProductsTable {
  sku: string;
  name: string;
  price_cents: number;
  /** Units ever received (initial stock + restocks): sold can never exceed it. */
  received: number;
  available: number;
  reserved: number;
  sold: number;
}

export interface ReservationsTable {
  order_id: string;
  sku: string;
  qty: number;
  /** held, confirmed, released or expired. */
  status: string;
  expires_at: number;
  created_at: number;
  updated_at: number;
}

export interface InventoryDb {
  inv_products: ProductsTable;
  inv_reservations: ReservationsTable;
}

export const inventoryMigrations: Migration[] = [
  {
    id: "001_products_reservations",
    async up(db) {
      await db.schema
        .createTable("inv_products")
        .addColumn("sku", "varchar(64)", (c) => c.primaryKey())
        .addColumn("name", "varchar(200)", (c) => c.notNull())
        .addColumn("price_cents", "bigint", (c) => c.notNull())
        .addColumn("received", "bigint", (c) => c.notNull())
        .addColumn("available", "bigint", (c) => c.notNull().check(sqlNonNegative("available")))
        .addColumn("reserved", "bigint", (c) => c.notNull().check(sqlNonNegative("reserved")))
        .addColumn("sold", "bigint", (c) => c.notNull().check(sqlNonNegative("sold")))
        .execute();
      await db.schema
        .createTable("inv_reservations")
        .addColumn("order_id", "varchar(64)", (c) => c.notNull())
        .addColumn("sku", "varchar(64)", (c) => c.notNull())
        .addColumn("qty", "bigint", (c) => c.notNull())
        .addColumn("status", "varchar(20)", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("inv_reservations_pk", ["order_id", "sku"])
        .execute();
      await db.schema
        .createIndex("inv_reservations_expiry")
        .on("inv_reservations")
        .columns(["status", "expires_at"])
        .execute();
    },
  },
  {
    id: "002_held_expiry_index",
    async up(db) {
      // The sweeper's index holds only held lines. On (status, expires_at) it held every line ever reserved,
      // and SQLite, with no statistics, picked it to confirm an order's lines ("order_id = ? and status =
      // 'held'"): a scan of every held line (17-24 µs an order in the commerce bench, growing with the
      // orders in flight) where the primary key finds the order's own.
      await db.schema.dropIndex("inv_reservations_expiry").execute();
      await db.schema
        .createIndex("inv_reservations_held_expiry")
        .on("inv_reservations")
        .column("expires_at")
        .where(sql.ref("status"), "=", "held")
        .execute();
    },
  },
];

function sqlNonNegative(column: "available" | "reserved" | "sold") {
  // The database refuses negative stock even if a code path forgets to check: the last line of defence.
  return sql.raw(`${column} >= 0`);
}

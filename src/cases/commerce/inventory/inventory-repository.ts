import { type Kysely, sql, type Transaction } from "kysely";
import { type Placeholders, prepare } from "../../../platform/storage/index.ts";
import type { InventoryDb, ProductsTable, ReservationsTable } from "./migrations.ts";

type Db = Kysely<InventoryDb> | Transaction<InventoryDb>;

// The statements every order runs, prepared (see PreparedStatement).
const RESERVATIONS_OF = prepare((db: Kysely<InventoryDb>, p: Placeholders<{ order_id: string }>) =>
  db.selectFrom("inv_reservations").selectAll().where("order_id", "=", p("order_id")),
);
const PRICE_OF = prepare((db: Kysely<InventoryDb>, p: Placeholders<{ sku: string }>) =>
  db.selectFrom("inv_products").select(["sku", "price_cents"]).where("sku", "=", p("sku")),
);
const TAKE = prepare((db: Kysely<InventoryDb>, p: Placeholders<{ sku: string; qty: number }>) =>
  db
    .updateTable("inv_products")
    .set((eb) => ({ available: eb("available", "-", p("qty")), reserved: eb("reserved", "+", p("qty")) }))
    .where("sku", "=", p("sku"))
    .where("available", ">=", p("qty")),
);
const HOLD = prepare(
  (
    db: Kysely<InventoryDb>,
    p: Placeholders<Pick<ReservationsTable, "order_id" | "sku" | "qty" | "expires_at" | "created_at">>,
  ) =>
    db.insertInto("inv_reservations").values({
      order_id: p("order_id"),
      sku: p("sku"),
      qty: p("qty"),
      status: "held",
      expires_at: p("expires_at"),
      created_at: p("created_at"),
      updated_at: p("created_at"),
    }),
);
const CONFIRM_HELD = prepare((db: Kysely<InventoryDb>, p: Placeholders<{ order_id: string; now: number }>) =>
  db
    .updateTable("inv_reservations")
    .set({ status: "confirmed", updated_at: p("now") })
    .where("order_id", "=", p("order_id"))
    .where("status", "=", "held")
    .returning(["sku", "qty"]),
);
const SELL = prepare((db: Kysely<InventoryDb>, p: Placeholders<{ sku: string; qty: number }>) =>
  db
    .updateTable("inv_products")
    .set((eb) => ({ reserved: eb("reserved", "-", p("qty")), sold: eb("sold", "+", p("qty")) }))
    .where("sku", "=", p("sku")),
);

export interface LineItem {
  sku: string;
  qty: number;
}

export interface StockLevel {
  sku: string;
  available: number;
  reserved: number;
  sold: number;
  received: number;
}

export type ReserveResult =
  | {
      ok: true;
      items: Array<LineItem & { priceCents: number }>;
      totalCents: number;
      alreadyReserved: boolean;
    }
  | { ok: false; reason: "unknown-sku" | "insufficient-stock"; sku: string };

export interface InventoryRepositoryOptions {
  /**
   * true: one conditional UPDATE per line (`available >= qty`), which cannot oversell. false reproduces the
   * "before" architecture: read the stock, check it in code, write the new value in a separate statement.
   */
  atomicReservation: boolean;
}

/** Stock and reservations. Every state change is a conditional update, so it is safe under any concurrency. */
export class InventoryRepository {
  readonly #db: Kysely<InventoryDb>;
  readonly #atomic: boolean;

  constructor(db: Kysely<InventoryDb>, options: InventoryRepositoryOptions) {
    this.#db = db;
    this.#atomic = options.atomicReservation;
  }

  async upsertProduct(product: {
    sku: string;
    name: string;
    priceCents: number;
    stock: number;
  }): Promise<StockLevel> {
    await this.#db
      .insertInto("inv_products")
      .values({
        sku: product.sku,
        name: product.name,
        price_cents: product.priceCents,
        received: product.stock,
        available: product.stock,
        reserved: 0,
        sold: 0,
      })
      .onConflict((oc) =>
        oc.column("sku").doUpdateSet({ name: product.name, price_cents: product.priceCents }),
      )
      .execute();
    return (await this.stock(product.sku))!;
  }

  async restock(sku: string, qty: number): Promise<StockLevel | undefined> {
    const result = await this.#db
      .updateTable("inv_products")
      .set((eb) => ({ available: eb("available", "+", qty), received: eb("received", "+", qty) }))
      .where("sku", "=", sku)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1 ? this.stock(sku) : undefined;
  }

  async stock(sku: string, db: Db = this.#db): Promise<StockLevel | undefined> {
    const row = await db.selectFrom("inv_products").selectAll().where("sku", "=", sku).executeTakeFirst();
    return row && toStock(row);
  }

  async products(): Promise<Array<StockLevel & { name: string; priceCents: number }>> {
    const rows = await this.#db.selectFrom("inv_products").selectAll().orderBy("sku").execute();
    return rows.map((r) => ({ ...toStock(r), name: r.name, priceCents: Number(r.price_cents) }));
  }

  /**
   * Reserves every line of an order or none. Idempotent per order: reserving an order that already holds
   * reservations returns them without reserving again.
   */
  async reserve(
    trx: Transaction<InventoryDb>,
    orderId: string,
    items: LineItem[],
    now: number,
    expiresAt: number,
  ): Promise<ReserveResult> {
    const { rows: existing } = await RESERVATIONS_OF.execute(trx, { order_id: orderId });
    if (existing.length > 0) {
      const prices = await this.#prices(
        trx,
        existing.map((r) => r.sku),
      );
      const lines = existing.map((r) => ({
        sku: r.sku,
        qty: Number(r.qty),
        priceCents: prices.get(r.sku) ?? 0,
      }));
      return { ok: true, items: lines, totalCents: total(lines), alreadyReserved: true };
    }
    const merged = mergeLines(items);
    const prices = await this.#prices(
      trx,
      merged.map((i) => i.sku),
    );
    const unknown = merged.find((item) => !prices.has(item.sku));
    if (unknown) return { ok: false, reason: "unknown-sku", sku: unknown.sku };
    const taken: LineItem[] = [];
    for (const item of merged) {
      const ok = this.#atomic ? await takeAtomically(trx, item) : await takeReadThenWrite(trx, item);
      if (!ok) {
        // All or nothing, inside the caller's transaction: give back the lines already taken.
        for (const line of taken) await giveBack(trx, line);
        return { ok: false, reason: "insufficient-stock", sku: item.sku };
      }
      taken.push(item);
    }
    for (const i of merged) {
      await HOLD.execute(trx, {
        order_id: orderId,
        sku: i.sku,
        qty: i.qty,
        expires_at: expiresAt,
        created_at: now,
      });
    }
    const lines = merged.map((i) => ({ ...i, priceCents: prices.get(i.sku)! }));
    return { ok: true, items: lines, totalCents: total(lines), alreadyReserved: false };
  }

  /** held → confirmed: reserved units become sold. False when nothing was held (released or expired first). */
  async confirm(trx: Transaction<InventoryDb>, orderId: string, now: number): Promise<boolean> {
    return this.#settle(trx, orderId, "confirmed", now);
  }

  /**
   * held or confirmed → released: units go back to available (a cancelled order returns what it bought).
   * False when nothing was held or sold.
   */
  async release(trx: Transaction<InventoryDb>, orderId: string, now: number): Promise<boolean> {
    return this.#settle(trx, orderId, "released", now);
  }

  /** Orders whose held reservations expired before `now`. */
  async expiredOrders(now: number, limit = 100): Promise<string[]> {
    const rows = await this.#db
      .selectFrom("inv_reservations")
      .select("order_id")
      .distinct()
      // A literal, so that the planner sees the partial index's condition (a parameter might be anything).
      .where("status", "=", sql.lit("held"))
      .where("expires_at", "<", now)
      .limit(limit)
      .execute();
    return rows.map((r) => r.order_id);
  }

  async expire(trx: Transaction<InventoryDb>, orderId: string, now: number): Promise<boolean> {
    return this.#settle(trx, orderId, "expired", now, now);
  }

  /** Status of each reserved line of an order, read inside the caller's transaction. */
  async statuses(trx: Db, orderId: string): Promise<string[]> {
    const rows = await trx
      .selectFrom("inv_reservations")
      .select("status")
      .where("order_id", "=", orderId)
      .execute();
    return rows.map((r) => r.status);
  }

  async reservations(orderId?: string) {
    let q = this.#db.selectFrom("inv_reservations").selectAll();
    if (orderId) q = q.where("order_id", "=", orderId);
    return (await q.orderBy("order_id").orderBy("sku").execute()).map((r) => ({
      orderId: r.order_id,
      sku: r.sku,
      qty: Number(r.qty),
      status: r.status,
      expiresAt: Number(r.expires_at),
    }));
  }

  async #settle(
    trx: Transaction<InventoryDb>,
    orderId: string,
    to: "confirmed" | "released" | "expired",
    now: number,
    expiredBefore?: number,
  ): Promise<boolean> {
    if (to !== "released") {
      // From "held" only: one conditional update moves the lines and says which moved.
      let moved: Array<{ sku: string; qty: number }>;
      if (to === "confirmed" && expiredBefore === undefined) {
        moved = (await CONFIRM_HELD.execute(trx, { order_id: orderId, now })).rows;
      } else {
        let moveHeld = trx
          .updateTable("inv_reservations")
          .set({ status: to, updated_at: now })
          .where("order_id", "=", orderId)
          .where("status", "=", "held");
        if (expiredBefore !== undefined) moveHeld = moveHeld.where("expires_at", "<", expiredBefore);
        moved = await moveHeld.returning(["sku", "qty"]).execute();
      }
      // Products in SKU order, as reserve() takes them: two orders never lock the same two the other way round.
      moved.sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
      for (const line of moved) await this.#stockOf(trx, line.sku, Number(line.qty), "held", to);
      return moved.length > 0;
    }
    // A cancelled order gives back even what was already sold to it (the payment side refunds it).
    const from = ["held", "confirmed"];
    let q = trx
      .selectFrom("inv_reservations")
      .select(["sku", "qty", "status"])
      .where("order_id", "=", orderId)
      .where("status", "in", from);
    if (expiredBefore !== undefined) q = q.where("expires_at", "<", expiredBefore);
    const lines = await q.execute();
    let settled = 0;
    for (const line of lines) {
      // The status condition makes confirm, release and expiry race-safe: only one of them moves a line.
      const moved = await trx
        .updateTable("inv_reservations")
        .set({ status: to, updated_at: now })
        .where("order_id", "=", orderId)
        .where("sku", "=", line.sku)
        .where("status", "=", line.status)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) continue;
      settled++;
      await this.#stockOf(trx, line.sku, Number(line.qty), line.status, to);
    }
    return settled > 0;
  }

  /** Moves a settled line's units in the product's counters. */
  async #stockOf(trx: Transaction<InventoryDb>, sku: string, qty: number, from: string, to: string) {
    if (to === "confirmed") {
      await SELL.execute(trx, { sku, qty });
      return;
    }
    const was = from === "confirmed" ? "sold" : "reserved";
    await trx
      .updateTable("inv_products")
      .set((eb) =>
        to === "confirmed"
          ? { reserved: eb("reserved", "-", qty), sold: eb("sold", "+", qty) }
          : { [was]: eb(was, "-", qty), available: eb("available", "+", qty) },
      )
      .where("sku", "=", sku)
      .execute();
  }

  async #prices(db: Db, skus: string[]): Promise<Map<string, number>> {
    if (skus.length === 0) return new Map();
    if (skus.length === 1) {
      const row = await PRICE_OF.first(db, { sku: skus[0]! });
      return new Map(row ? [[row.sku, Number(row.price_cents)]] : []);
    }
    const rows = await db
      .selectFrom("inv_products")
      .select(["sku", "price_cents"])
      .where("sku", "in", skus)
      .execute();
    return new Map(rows.map((r) => [r.sku, Number(r.price_cents)]));
  }
}

async function takeAtomically(trx: Transaction<InventoryDb>, item: LineItem): Promise<boolean> {
  const result = await TAKE.execute(trx, { sku: item.sku, qty: item.qty });
  return Number(result.numAffectedRows) === 1;
}

async function giveBack(trx: Transaction<InventoryDb>, item: LineItem): Promise<void> {
  await trx
    .updateTable("inv_products")
    .set((eb) => ({ available: eb("available", "+", item.qty), reserved: eb("reserved", "-", item.qty) }))
    .where("sku", "=", item.sku)
    .execute();
}

/**
 * The oversell-prone way, kept for the lab: read, decide in code, write back an absolute value. Under
 * READ COMMITTED (Postgres' default) another buyer can take the same units between the read and the write.
 * SQLite serialises writers, so on the embedded profile this mode loses no update.
 */
async function takeReadThenWrite(db: Transaction<InventoryDb>, item: LineItem): Promise<boolean> {
  const row = await db
    .selectFrom("inv_products")
    .select(["available", "reserved"])
    .where("sku", "=", item.sku)
    .executeTakeFirst();
  if (!row || Number(row.available) < item.qty) return false;
  await new Promise((r) => setImmediate(r)); // the application's own work between read and write
  await db
    .updateTable("inv_products")
    .set({
      available: Math.max(0, Number(row.available) - item.qty),
      reserved: Number(row.reserved) + item.qty,
    })
    .where("sku", "=", item.sku)
    .execute();
  return true;
}

function mergeLines(items: LineItem[]): LineItem[] {
  const bySku = new Map<string, number>();
  for (const { sku, qty } of items) bySku.set(sku, (bySku.get(sku) ?? 0) + qty);
  return [...bySku].sort(([a], [b]) => (a < b ? -1 : 1)).map(([sku, qty]) => ({ sku, qty }));
}

function total(lines: Array<{ qty: number; priceCents: number }>): number {
  return lines.reduce((sum, l) => sum + l.qty * l.priceCents, 0);
}

function toStock(row: ProductsTable): StockLevel {
  return {
    sku: row.sku,
    available: Number(row.available),
    reserved: Number(row.reserved),
    sold: Number(row.sold),
    received: Number(row.received),
  };
}

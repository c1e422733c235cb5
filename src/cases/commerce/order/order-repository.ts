import { type Kysely, sql, type Transaction } from "kysely";
import { type Placeholders, prepare } from "../../../platform/storage/index.ts";
import type { LineItem } from "../inventory/index.ts";
import type { OrderDb, OrdersTable } from "./migrations.ts";

type Db = Kysely<OrderDb> | Transaction<OrderDb>;

// The saga's statements, prepared: each order runs every one of them (see PreparedStatement).
const INSERT = prepare(
  (
    db: Kysely<OrderDb>,
    p: Placeholders<
      Pick<
        OrdersTable,
        "id" | "customer_id" | "items" | "payment_token" | "created_at" | "deadline_at" | "access_token_hash"
      >
    >,
  ) =>
    db.insertInto("ord_orders").values({
      id: p("id"),
      customer_id: p("customer_id"),
      status: "PENDING",
      reason: null,
      items: p("items"),
      total_cents: null,
      payment_state: "none",
      charge_id: null,
      payment_token: p("payment_token"),
      created_at: p("created_at"),
      updated_at: p("created_at"),
      deadline_at: p("deadline_at"),
      redrives: 0,
      stock_committed: 0,
      access_token_hash: p("access_token_hash"),
    }),
);
const STEP = prepare(
  (
    db: Kysely<OrderDb>,
    p: Placeholders<{ order_id: string; step: string; at: number; detail: string | null }>,
  ) =>
    db
      .insertInto("ord_timeline")
      .values({ order_id: p("order_id"), step: p("step"), at: p("at"), detail: p("detail") })
      .onConflict((oc) => oc.columns(["order_id", "step"]).doNothing()),
);
const FINISH = prepare(
  (
    db: Kysely<OrderDb>,
    p: Placeholders<{ id: string; status: string; reason: string | null; now: number }>,
  ) =>
    db
      .updateTable("ord_orders")
      .set({ status: p("status"), reason: p("reason"), updated_at: p("now") })
      .where("id", "=", p("id"))
      .where("status", "=", "PENDING"),
);
const SETTLEMENT = ["status", "payment_state", "stock_committed"] as const;
const SET_PAYMENT = prepare(
  (db: Kysely<OrderDb>, p: Placeholders<{ id: string; state: string; now: number }>) =>
    db
      .updateTable("ord_orders")
      .set({ payment_state: p("state"), updated_at: p("now") })
      .where("id", "=", p("id"))
      .returning(SETTLEMENT),
);
const SET_PAYMENT_AND_CHARGE = prepare(
  (db: Kysely<OrderDb>, p: Placeholders<{ id: string; state: string; charge_id: string; now: number }>) =>
    db
      .updateTable("ord_orders")
      .set({ payment_state: p("state"), charge_id: p("charge_id"), updated_at: p("now") })
      .where("id", "=", p("id"))
      .returning(SETTLEMENT),
);
const MARK_STOCK_COMMITTED = prepare((db: Kysely<OrderDb>, p: Placeholders<{ id: string; now: number }>) =>
  db
    .updateTable("ord_orders")
    .set({ stock_committed: 1, updated_at: p("now") })
    .where("id", "=", p("id"))
    .returning(SETTLEMENT),
);
const CONFIRM_IF_SETTLED = prepare((db: Kysely<OrderDb>, p: Placeholders<{ id: string; now: number }>) =>
  db
    .updateTable("ord_orders")
    .set({ status: "CONFIRMED", reason: null, updated_at: p("now") })
    .where("id", "=", p("id"))
    .where("status", "=", "PENDING")
    .where("payment_state", "=", "captured")
    .where("stock_committed", "=", 1),
);
const SET_TOTAL = prepare(
  (db: Kysely<OrderDb>, p: Placeholders<{ id: string; total_cents: number; now: number }>) =>
    db
      .updateTable("ord_orders")
      .set({ total_cents: p("total_cents"), updated_at: p("now") })
      .where("id", "=", p("id")),
);

export type OrderStatus = "PENDING" | "CONFIRMED" | "CANCELLED";

export interface OrderView {
  orderId: string;
  customerId: string;
  status: OrderStatus;
  reason: string | null;
  items: LineItem[];
  totalCents: number | null;
  payment: { state: string; chargeId: string | null };
  createdAt: string;
  updatedAt: string;
  timeline: Array<{ step: string; at: string; detail: string | null }>;
}

/** What an order row knows of the two facts a confirmation waits for. */
export interface Settlement {
  status: OrderStatus;
  paid: boolean;
  stockCommitted: boolean;
}

export interface NewOrder {
  id: string;
  /** SHA-256 (hex) of the access token handed to the customer; see OrdersTable.access_token_hash. */
  accessTokenHash: string;
  customerId: string;
  items: LineItem[];
  paymentToken: string;
  now: number;
  deadlineAt: number;
}

/** Orders and their saga timelines. Status moves only out of PENDING, by conditional update. */
export class OrderRepository {
  readonly #db: Kysely<OrderDb>;
  constructor(db: Kysely<OrderDb>) {
    this.#db = db;
  }

  async insert(trx: Db, order: NewOrder): Promise<void> {
    await INSERT.execute(trx, {
      id: order.id,
      customer_id: order.customerId,
      items: JSON.stringify(order.items),
      payment_token: order.paymentToken,
      created_at: order.now,
      deadline_at: order.deadlineAt,
      access_token_hash: order.accessTokenHash,
    });
    await this.step(trx, order.id, "OrderCreated", order.now);
  }

  /** Records a saga step once (the first time it happens). */
  async step(trx: Db, orderId: string, step: string, at: number, detail?: string): Promise<void> {
    await STEP.execute(trx, { order_id: orderId, step, at, detail: detail ?? null });
  }

  /** PENDING → CONFIRMED or CANCELLED. False when the order had already left PENDING. */
  async finish(trx: Db, orderId: string, status: "CONFIRMED" | "CANCELLED", now: number, reason?: string) {
    const result = await FINISH.execute(trx, { id: orderId, status, reason: reason ?? null, now });
    const moved = Number(result.numAffectedRows) === 1;
    if (moved)
      await this.step(
        trx,
        orderId,
        status === "CONFIRMED" ? "OrderConfirmed" : "OrderCancelled",
        now,
        reason,
      );
    return moved;
  }

  /**
   * Records the order's payment state and returns what the row knows now. The update locks the row, so
   * on Postgres a concurrent handler recording the other fact waits, and then sees this one.
   */
  async setPayment(
    trx: Db,
    orderId: string,
    state: string,
    chargeId: string | null,
    now: number,
  ): Promise<Settlement | undefined> {
    const row = chargeId
      ? await SET_PAYMENT_AND_CHARGE.first(trx, { id: orderId, state, charge_id: chargeId, now })
      : await SET_PAYMENT.first(trx, { id: orderId, state, now });
    return row && toSettlement(row);
  }

  /** Records that the order's stock is committed (sold) and returns what the row knows now; see setPayment. */
  async markStockCommitted(trx: Db, orderId: string, now: number): Promise<Settlement | undefined> {
    const row = await MARK_STOCK_COMMITTED.first(trx, { id: orderId, now });
    return row && toSettlement(row);
  }

  /**
   * Confirms a PENDING order once both facts of a paid checkout are recorded: its payment captured and its
   * stock committed. The two arrive on different topics in either order, so each handler records its own
   * fact (setPayment, markStockCommitted), which locks the row and returns the other, then calls this with
   * what it got back. When the two handlers run at once (Postgres) the second waits on the row lock and
   * then sees the first's write: neither can miss the other. The update repeats the conditions, so a
   * stale `settlement` can never confirm an order twice or early.
   */
  async confirmIfSettled(trx: Db, orderId: string, now: number, settlement: Settlement | undefined) {
    if (settlement?.status !== "PENDING" || !settlement.paid || !settlement.stockCommitted) return false;
    const result = await CONFIRM_IF_SETTLED.execute(trx, { id: orderId, now });
    if (Number(result.numAffectedRows) !== 1) return false;
    await this.step(trx, orderId, "OrderConfirmed", now);
    return true;
  }

  async setTotal(trx: Db, orderId: string, totalCents: number, now: number): Promise<void> {
    await SET_TOTAL.execute(trx, { id: orderId, total_cents: totalCents, now });
  }

  async get(orderId: string): Promise<OrderView | undefined> {
    return (await this.find(orderId))?.view;
  }

  /** The order as its customer sees it, and the hash its access token must match (never shown). */
  async find(orderId: string): Promise<{ view: OrderView; accessTokenHash: string | null } | undefined> {
    const row = await this.#db
      .selectFrom("ord_orders")
      .selectAll()
      .where("id", "=", orderId)
      .executeTakeFirst();
    if (!row) return undefined;
    const steps = await this.#db
      .selectFrom("ord_timeline")
      .selectAll()
      .where("order_id", "=", orderId)
      .orderBy("at")
      .execute();
    return { view: toView(row, steps), accessTokenHash: row.access_token_hash };
  }

  async raw(orderId: string, db: Db = this.#db): Promise<OrdersTable | undefined> {
    return db.selectFrom("ord_orders").selectAll().where("id", "=", orderId).executeTakeFirst();
  }

  /** PENDING orders whose deadline passed, oldest first. */
  async overdue(now: number, limit = 100): Promise<OrdersTable[]> {
    return (
      this.#db
        .selectFrom("ord_orders")
        .selectAll()
        // A literal, so that the planner sees the partial index's condition (a parameter might be anything).
        .where("status", "=", sql.lit("PENDING"))
        .where("deadline_at", "<", now)
        .orderBy("deadline_at")
        .limit(limit)
        .execute()
    );
  }

  /** Pushes the deadline and counts a re-drive; false when another sweeper got there first. */
  async redrive(trx: Db, order: OrdersTable, now: number, nextDeadline: number): Promise<boolean> {
    const result = await trx
      .updateTable("ord_orders")
      .set({ redrives: order.redrives + 1, deadline_at: nextDeadline, updated_at: now })
      .where("id", "=", order.id)
      .where("status", "=", "PENDING")
      .where("redrives", "=", order.redrives)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Cancelled orders whose payment the order still knows as captured, untouched since `before`: their
   * refund has not come back (a compensation that was lost, or is failing).
   */
  async uncompensated(before: number, limit = 100): Promise<OrdersTable[]> {
    return this.#db
      .selectFrom("ord_orders")
      .selectAll()
      .where("status", "=", "CANCELLED")
      .where("payment_state", "=", "captured")
      .where("updated_at", "<", before)
      .orderBy("updated_at")
      .limit(limit)
      .execute();
  }

  /** Marks the order as looked at now; false when another sweeper got there first. */
  async touch(trx: Db, order: OrdersTable, now: number): Promise<boolean> {
    const result = await trx
      .updateTable("ord_orders")
      .set({ updated_at: now })
      .where("id", "=", order.id)
      .where("updated_at", "=", order.updated_at)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async all(): Promise<OrdersTable[]> {
    return this.#db.selectFrom("ord_orders").selectAll().orderBy("created_at").execute();
  }

  async counts(): Promise<Record<string, number>> {
    const rows = await this.#db
      .selectFrom("ord_orders")
      .select((eb) => ["status", eb.fn.countAll<number>().as("n")])
      .groupBy("status")
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }
}

function toView(
  row: OrdersTable,
  steps: Array<{ step: string; at: number; detail: string | null }>,
): OrderView {
  return {
    orderId: row.id,
    customerId: row.customer_id,
    status: row.status as OrderStatus,
    reason: row.reason,
    items: JSON.parse(row.items) as LineItem[],
    totalCents: row.total_cents === null ? null : Number(row.total_cents),
    payment: { state: row.payment_state, chargeId: row.charge_id },
    createdAt: new Date(Number(row.created_at)).toISOString(),
    updatedAt: new Date(Number(row.updated_at)).toISOString(),
    timeline: steps.map((s) => ({
      step: s.step,
      at: new Date(Number(s.at)).toISOString(),
      detail: s.detail,
    })),
  };
}

function toSettlement(row: Pick<OrdersTable, "status" | "payment_state" | "stock_committed">): Settlement {
  return {
    status: row.status as OrderStatus,
    paid: row.payment_state === "captured",
    stockCommitted: Number(row.stock_committed) === 1,
  };
}

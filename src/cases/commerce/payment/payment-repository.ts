import type { Kysely, Transaction } from "kysely";
import { type Placeholders, prepare } from "../../../platform/storage/index.ts";
import type { PaymentDb, PaymentsTable } from "./migrations.ts";

type Db = Kysely<PaymentDb> | Transaction<PaymentDb>;

// The two statements of every paid order, prepared (see PreparedStatement).
const OPEN_ATTEMPT = prepare(
  (db: Kysely<PaymentDb>, p: Placeholders<{ order_id: string; amount_cents: number; now: number }>) =>
    db
      .insertInto("pay_payments")
      .values({
        order_id: p("order_id"),
        amount_cents: p("amount_cents"),
        status: "charging",
        charge_id: null,
        refund_id: null,
        reason: null,
        attempts: 1,
        created_at: p("now"),
        updated_at: p("now"),
      })
      .onConflict((oc) =>
        oc
          .column("order_id")
          .doUpdateSet((eb) => ({ attempts: eb("pay_payments.attempts", "+", 1) }))
          .where("pay_payments.status", "=", "charging"),
      )
      .returningAll(),
);
/** A move from one status that records the charge: charging → captured, the common case. */
const MOVE_WITH_CHARGE = prepare(
  (
    db: Kysely<PaymentDb>,
    p: Placeholders<{ order_id: string; from: string; to: string; now: number; charge_id: string | null }>,
  ) =>
    db
      .updateTable("pay_payments")
      .set({ status: p("to"), updated_at: p("now"), charge_id: p("charge_id") })
      .where("order_id", "=", p("order_id"))
      .where("status", "=", p("from")),
);

/** One payment per order. Status changes are conditional updates, so racing handlers cannot both win. */
export class PaymentRepository {
  readonly #db: Kysely<PaymentDb>;
  constructor(db: Kysely<PaymentDb>) {
    this.#db = db;
  }

  async get(orderId: string, db: Db = this.#db): Promise<PaymentsTable | undefined> {
    return db.selectFrom("pay_payments").selectAll().where("order_id", "=", orderId).executeTakeFirst();
  }

  /** Creates the payment in `status` unless one exists; returns the row as it now stands. */
  async open(
    orderId: string,
    amountCents: number,
    status: "charging" | "abandoned",
    now: number,
  ): Promise<PaymentsTable> {
    await this.#db
      .insertInto("pay_payments")
      .values({
        order_id: orderId,
        amount_cents: amountCents,
        status,
        charge_id: null,
        refund_id: null,
        reason: null,
        attempts: 0,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.column("order_id").doNothing())
      .execute();
    return (await this.get(orderId))!;
  }

  /** Moves the payment from one of `from` to `to`; false if it was in none of them. */
  async move(
    trx: Db,
    orderId: string,
    from: string[],
    to: string,
    now: number,
    fields: Partial<Pick<PaymentsTable, "charge_id" | "refund_id" | "reason">> = {},
  ): Promise<boolean> {
    const keys = Object.keys(fields);
    if (from.length === 1 && keys.length === 1 && fields.charge_id !== undefined) {
      const { charge_id } = fields;
      const moved = await MOVE_WITH_CHARGE.execute(trx, {
        order_id: orderId,
        from: from[0]!,
        to,
        now,
        charge_id,
      });
      return Number(moved.numAffectedRows) === 1;
    }
    const result = await trx
      .updateTable("pay_payments")
      .set({ status: to, updated_at: now, ...fields })
      .where("order_id", "=", orderId)
      .where("status", "in", from)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Abandoned payments last touched before `before`: money may be held for a cancelled order. */
  async abandoned(before: number, limit = 100): Promise<PaymentsTable[]> {
    return this.#db
      .selectFrom("pay_payments")
      .selectAll()
      .where("status", "=", "abandoned")
      .where("updated_at", "<", before)
      .orderBy("updated_at")
      .limit(limit)
      .execute();
  }

  /**
   * Opens the payment in "charging" with one attempt, or counts one more attempt on a payment still
   * charging, in one statement; returns the row as it now stands (a settled payment is returned unchanged).
   */
  async openAttempt(
    orderId: string,
    amountCents: number,
    now: number,
    db: Db = this.#db,
  ): Promise<PaymentsTable> {
    const row = await OPEN_ATTEMPT.first(db, { order_id: orderId, amount_cents: amountCents, now });
    return row ?? (await this.get(orderId, db))!;
  }

  async all(): Promise<PaymentsTable[]> {
    return this.#db.selectFrom("pay_payments").selectAll().orderBy("created_at").execute();
  }
}

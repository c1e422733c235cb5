import { randomUUIDv7 } from "node:crypto";
import type { Kysely, Transaction } from "kysely";
import { type Placeholders, prepare } from "../../../platform/storage/index.ts";
import type { GatewayChargesTable, GatewayDb, GatewayRefundsTable } from "./migrations.ts";

/** Every charge's row, prepared (see PreparedStatement). */
const INSERT_CHARGE = prepare((db: Kysely<GatewayDb>, p: Placeholders<GatewayChargesTable>) =>
  db.insertInto("gw_charges").values({
    id: p("id"),
    idempotency_key: p("idempotency_key"),
    amount_cents: p("amount_cents"),
    currency: p("currency"),
    source: p("source"),
    reference: p("reference"),
    status: p("status"),
    refunded_cents: p("refunded_cents"),
    created_at: p("created_at"),
  }),
);

export interface Charge {
  id: string;
  object: "charge";
  amountCents: number;
  currency: string;
  status: "succeeded" | "declined";
  reference: string | null;
  idempotencyKey: string | null;
  refundedCents: number;
  created: number;
}

export interface Refund {
  id: string;
  object: "refund";
  chargeId: string;
  amountCents: number;
  idempotencyKey: string | null;
  created: number;
}

type Db = Kysely<GatewayDb> | Transaction<GatewayDb>;

/** The simulated provider's book of charges and refunds: the ground truth the commerce checker reads. */
export class GatewayLedger {
  readonly #db: Kysely<GatewayDb>;
  constructor(db: Kysely<GatewayDb>) {
    this.#db = db;
  }

  get db(): Kysely<GatewayDb> {
    return this.#db;
  }

  async recordCharge(
    trx: Db,
    input: {
      amountCents: number;
      currency: string;
      source: string;
      reference: string | null;
      idempotencyKey: string | null;
      status: Charge["status"];
      now: number;
    },
  ): Promise<Charge> {
    const row: GatewayChargesTable = {
      // Time-ordered ids keep inserts at the end of the index (see the order id in order-service.ts).
      id: `ch_${randomUUIDv7().replaceAll("-", "")}`,
      idempotency_key: input.idempotencyKey,
      amount_cents: input.amountCents,
      currency: input.currency,
      source: input.source,
      reference: input.reference,
      status: input.status,
      refunded_cents: 0,
      created_at: input.now,
    };
    await INSERT_CHARGE.execute(trx, row);
    return toCharge(row);
  }

  /** Refunds up to what remains of the charge; returns undefined when the amount exceeds it. */
  async recordRefund(
    trx: Db,
    input: { chargeId: string; amountCents: number; idempotencyKey: string | null; now: number },
  ): Promise<Refund | undefined> {
    const updated = await trx
      .updateTable("gw_charges")
      .set((eb) => ({ refunded_cents: eb("refunded_cents", "+", input.amountCents) }))
      .where("id", "=", input.chargeId)
      .where("status", "=", "succeeded")
      .where((eb) => eb(eb("refunded_cents", "+", input.amountCents), "<=", eb.ref("amount_cents")))
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) return undefined;
    const row: GatewayRefundsTable = {
      id: `re_${randomUUIDv7().replaceAll("-", "")}`,
      charge_id: input.chargeId,
      idempotency_key: input.idempotencyKey,
      amount_cents: input.amountCents,
      created_at: input.now,
    };
    await trx.insertInto("gw_refunds").values(row).execute();
    return toRefund(row);
  }

  async charge(id: string, trx: Db = this.#db): Promise<Charge | undefined> {
    const row = await trx.selectFrom("gw_charges").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toCharge(row);
  }

  async chargeByIdempotencyKey(key: string): Promise<Charge | undefined> {
    const row = await this.#db
      .selectFrom("gw_charges")
      .selectAll()
      .where("idempotency_key", "=", key)
      .executeTakeFirst();
    return row && toCharge(row);
  }

  async all(): Promise<{ charges: Charge[]; refunds: Refund[] }> {
    const [charges, refunds] = await Promise.all([
      this.#db.selectFrom("gw_charges").selectAll().orderBy("created_at").orderBy("id").execute(),
      this.#db.selectFrom("gw_refunds").selectAll().orderBy("created_at").orderBy("id").execute(),
    ]);
    return { charges: charges.map(toCharge), refunds: refunds.map(toRefund) };
  }
}

function toCharge(row: GatewayChargesTable): Charge {
  return {
    id: row.id,
    object: "charge",
    amountCents: Number(row.amount_cents),
    currency: row.currency,
    status: row.status as Charge["status"],
    reference: row.reference,
    idempotencyKey: row.idempotency_key,
    refundedCents: Number(row.refunded_cents),
    created: Number(row.created_at),
  };
}

function toRefund(row: GatewayRefundsTable): Refund {
  return {
    id: row.id,
    object: "refund",
    chargeId: row.charge_id,
    amountCents: Number(row.amount_cents),
    idempotencyKey: row.idempotency_key,
    created: Number(row.created_at),
  };
}

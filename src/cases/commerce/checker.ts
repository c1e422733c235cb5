import type { Kysely } from "kysely";
import type { Store } from "../../platform/storage/index.ts";
import type { GatewayDb } from "./gateway/migrations.ts";
import type { InventoryDb } from "./inventory/migrations.ts";
import type { OrderDb } from "./order/migrations.ts";

export interface Violation {
  invariant:
    | "charge-without-confirmed-order"
    | "duplicate-charge"
    | "confirmed-without-charge"
    | "negative-stock"
    | "oversold"
    | "stock-not-conserved"
    | "reservation-unsettled"
    | "sold-for-cancelled-order"
    | "saga-unfinished"
    | "confirmed-unpaid";
  orderId?: string;
  sku?: string;
  detail: string;
}

export interface CommerceCheck {
  ok: boolean;
  checkedAt: string;
  orders: Record<string, number>;
  charges: {
    captured: number;
    declined: number;
    refunded: number;
    capturedCents: number;
    refundedCents: number;
  };
  violations: Violation[];
}

export interface CheckOptions {
  now?: number;
  /** How long past its deadline a PENDING order may be before it counts as stuck (sweeper lag). */
  graceMs?: number;
  /** Cap on violations listed (they are all counted in `ok`). */
  maxListed?: number;
}

/**
 * The commerce invariants, read from the merchant's store and the gateway's ledger (the ground truth of
 * who was charged). Run it after the load stops; it reads, never writes.
 */
export async function checkCommerce(
  store: Store,
  gatewayStore: Store,
  options: CheckOptions = {},
): Promise<CommerceCheck> {
  const now = options.now ?? Date.now();
  const graceMs = options.graceMs ?? 30_000;
  const db = store.db as Kysely<OrderDb & InventoryDb>;
  const gw = gatewayStore.db as Kysely<GatewayDb>;
  const [orders, charges, products, reservations] = await Promise.all([
    db.selectFrom("ord_orders").select(["id", "status", "deadline_at", "payment_state"]).execute(),
    gw
      .selectFrom("gw_charges")
      .select(["id", "reference", "status", "amount_cents", "refunded_cents"])
      .execute(),
    db.selectFrom("inv_products").selectAll().execute(),
    db.selectFrom("inv_reservations").select(["order_id", "sku", "status", "expires_at"]).execute(),
  ]);
  const violations: Violation[] = [];
  const status = new Map(orders.map((o) => [o.id, o.status]));
  const counts: Record<string, number> = { PENDING: 0, CONFIRMED: 0, CANCELLED: 0 };
  for (const o of orders) counts[o.status] = (counts[o.status] ?? 0) + 1;

  const captured = charges.filter((c) => c.status === "succeeded");
  const fullyRefunded = (c: (typeof charges)[number]) => Number(c.refunded_cents) >= Number(c.amount_cents);
  const chargesByOrder = new Map<string, typeof captured>();
  for (const c of captured) {
    const key = c.reference ?? `(no reference) ${c.id}`;
    chargesByOrder.set(key, [...(chargesByOrder.get(key) ?? []), c]);
  }
  for (const [orderId, list] of chargesByOrder) {
    if (list.length > 1) {
      violations.push({
        invariant: "duplicate-charge",
        orderId,
        detail: `${list.length} captured charges: ${list.map((c) => c.id).join(", ")}`,
      });
    }
    for (const c of list) {
      if (status.get(orderId) !== "CONFIRMED" && !fullyRefunded(c)) {
        violations.push({
          invariant: "charge-without-confirmed-order",
          orderId,
          detail: `charge ${c.id} captured, order is ${status.get(orderId) ?? "missing"}, not refunded`,
        });
      }
    }
  }
  for (const o of orders) {
    if (o.status !== "CONFIRMED") continue;
    const live = (chargesByOrder.get(o.id) ?? []).filter((c) => !fullyRefunded(c));
    if (live.length !== 1) {
      violations.push({
        invariant: "confirmed-without-charge",
        orderId: o.id,
        detail: `${live.length} captured, unrefunded charges`,
      });
    }
  }
  for (const o of orders) {
    // The merchant's own record must agree with the ledger: a confirmed order shows its captured payment.
    if (o.status === "CONFIRMED" && o.payment_state !== "captured") {
      violations.push({
        invariant: "confirmed-unpaid",
        orderId: o.id,
        detail: `CONFIRMED with payment ${o.payment_state}`,
      });
    }
  }
  for (const p of products) {
    const [available, reserved, sold, received] = [p.available, p.reserved, p.sold, p.received].map(
      Number,
    ) as [number, number, number, number];
    if (available < 0 || reserved < 0 || sold < 0) {
      violations.push({
        invariant: "negative-stock",
        sku: p.sku,
        detail: `available ${available}, reserved ${reserved}, sold ${sold}`,
      });
    }
    if (sold > received)
      violations.push({ invariant: "oversold", sku: p.sku, detail: `sold ${sold} of ${received} received` });
    if (available + reserved + sold !== received) {
      violations.push({
        invariant: "stock-not-conserved",
        sku: p.sku,
        detail: `${available} + ${reserved} + ${sold} ≠ ${received} received`,
      });
    }
  }
  for (const r of reservations) {
    const orderStatus = status.get(r.order_id);
    if (r.status === "held" && (orderStatus !== "PENDING" || Number(r.expires_at) + graceMs < now)) {
      violations.push({
        invariant: "reservation-unsettled",
        orderId: r.order_id,
        sku: r.sku,
        detail: `still held; order ${orderStatus}`,
      });
    }
    if (r.status === "confirmed" && orderStatus === "CANCELLED") {
      violations.push({
        invariant: "sold-for-cancelled-order",
        orderId: r.order_id,
        sku: r.sku,
        detail: "stock sold to a cancelled order",
      });
    }
  }
  for (const o of orders) {
    if (o.status === "PENDING" && Number(o.deadline_at) + graceMs < now) {
      violations.push({
        invariant: "saga-unfinished",
        orderId: o.id,
        detail: `PENDING ${Math.round((now - Number(o.deadline_at)) / 1000)} s past its deadline`,
      });
    }
  }
  return {
    ok: violations.length === 0,
    checkedAt: new Date(now).toISOString(),
    orders: counts,
    charges: {
      captured: captured.length,
      declined: charges.filter((c) => c.status === "declined").length,
      refunded: captured.filter(fullyRefunded).length,
      capturedCents: captured.reduce((s, c) => s + Number(c.amount_cents), 0),
      refundedCents: captured.reduce((s, c) => s + Number(c.refunded_cents), 0),
    },
    violations: violations.slice(0, options.maxListed ?? 1_000),
  };
}

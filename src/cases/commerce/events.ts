import { Type } from "@sinclair/typebox";
import { defineEvent, EventRegistry } from "../../platform/messaging/index.ts";

/** Topics, one per producing service; every event is keyed by order id, so one order's events stay in order. */
export const TOPICS = {
  orders: "commerce-orders",
  inventory: "commerce-inventory",
  payments: "commerce-payments",
} as const;
export const PARTITIONS = 8;

const OrderId = Type.String({ minLength: 1, maxLength: 64 });
const Line = Type.Object({ sku: Type.String(), qty: Type.Integer({ minimum: 1 }) });
const PricedLine = Type.Object({
  sku: Type.String(),
  qty: Type.Integer({ minimum: 1 }),
  priceCents: Type.Integer(),
});

export const OrderCreated = defineEvent(
  "OrderCreated",
  1,
  Type.Object({
    orderId: OrderId,
    customerId: Type.String(),
    items: Type.Array(Line, { minItems: 1 }),
    /** A payment token; card numbers never enter the system. */
    paymentToken: Type.String(),
    /** 0 on the first publish; the timeout sweeper re-drives a stuck saga with 1, 2, … */
    redrive: Type.Integer({ minimum: 0 }),
  }),
);
export const OrderConfirmed = defineEvent("OrderConfirmed", 1, Type.Object({ orderId: OrderId }));
export const OrderCancelled = defineEvent(
  "OrderCancelled",
  1,
  Type.Object({ orderId: OrderId, reason: Type.String() }),
);

export const StockReserved = defineEvent(
  "StockReserved",
  1,
  Type.Object({
    orderId: OrderId,
    items: Type.Array(PricedLine),
    totalCents: Type.Integer({ minimum: 0 }),
    paymentToken: Type.String(),
    expiresAt: Type.Integer(),
  }),
);
export const StockReservationFailed = defineEvent(
  "StockReservationFailed",
  1,
  Type.Object({ orderId: OrderId, reason: Type.String(), sku: Type.String() }),
);
export const StockCommitted = defineEvent("StockCommitted", 1, Type.Object({ orderId: OrderId }));
export const StockCommitFailed = defineEvent(
  "StockCommitFailed",
  1,
  Type.Object({ orderId: OrderId, reason: Type.String() }),
);

export const PaymentProcessed = defineEvent(
  "PaymentProcessed",
  1,
  Type.Object({ orderId: OrderId, chargeId: Type.String(), amountCents: Type.Integer() }),
);
export const PaymentFailed = defineEvent(
  "PaymentFailed",
  1,
  Type.Object({ orderId: OrderId, reason: Type.String(), retryable: Type.Boolean() }),
);
export const PaymentRefunded = defineEvent(
  "PaymentRefunded",
  1,
  Type.Object({
    orderId: OrderId,
    chargeId: Type.String(),
    amountCents: Type.Integer(),
    reason: Type.String(),
  }),
);

export function commerceEventRegistry(): EventRegistry {
  return new EventRegistry().register(
    OrderCreated,
    OrderConfirmed,
    OrderCancelled,
    StockReserved,
    StockReservationFailed,
    StockCommitted,
    StockCommitFailed,
    PaymentProcessed,
    PaymentFailed,
    PaymentRefunded,
  );
}

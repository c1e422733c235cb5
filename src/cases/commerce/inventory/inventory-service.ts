import { type Static, Type } from "@sinclair/typebox";
import type { Kysely } from "kysely";
import { HttpProblem, type Service } from "../../../platform/http/index.ts";
import type { Subscription } from "../../../platform/messaging/index.ts";
import { type CommerceContext, commerceService, sweeper, type Worker } from "../context.ts";
import {
  OrderCancelled,
  OrderCreated,
  PaymentProcessed,
  StockCommitFailed,
  StockCommitted,
  StockReservationFailed,
  StockReserved,
  TOPICS,
} from "../events.ts";
import { subscribeEvents } from "../saga/subscribe.ts";
import { InventoryRepository } from "./inventory-repository.ts";
import { type InventoryDb, inventoryMigrations } from "./migrations.ts";

const Sku = Type.String({ pattern: "^[A-Za-z0-9_-]{1,64}$" });
const ProductBody = Type.Object(
  {
    sku: Sku,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    priceCents: Type.Integer({ minimum: 0, maximum: 100_000_000 }),
    stock: Type.Integer({ minimum: 0, maximum: 1_000_000_000 }),
  },
  { additionalProperties: false },
);
const RestockBody = Type.Object(
  { qty: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }) },
  { additionalProperties: false },
);

export interface InventoryService {
  service: Service;
  repository: InventoryRepository;
  workers: Worker;
}

/** Stock and reservations: reserves on OrderCreated, commits on PaymentProcessed, releases on OrderCancelled. */
export async function createInventoryService(ctx: CommerceContext): Promise<InventoryService> {
  await ctx.store.migrate("inventory", inventoryMigrations);
  const db = ctx.store.db as Kysely<InventoryDb>;
  const repository = new InventoryRepository(db, {
    atomicReservation: ctx.config.patterns.atomicReservation,
  });
  const service = commerceService(ctx, "inventory");

  service.app.get("/inventory/:sku", { schema: { params: Type.Object({ sku: Sku }) } }, async (request) => {
    const stock = await repository.stock(request.params.sku);
    if (!stock) throw new HttpProblem(404, "not-found", "No such product", request.params.sku);
    return {
      available: stock.available,
      reserved: stock.reserved,
      sold: stock.sold,
      received: stock.received,
    };
  });
  service.app.get("/products", async () => repository.products());
  service.registerAdmin(async (admin) => {
    admin.post("/products", { schema: { body: ProductBody } }, async (request, reply) => {
      const body: Static<typeof ProductBody> = request.body as Static<typeof ProductBody>;
      return reply.code(201).send(await repository.upsertProduct(body));
    });
    admin.post(
      "/products/:sku/restock",
      { schema: { params: Type.Object({ sku: Sku }), body: RestockBody } },
      async (request) => {
        const { sku } = request.params as { sku: string };
        const stock = await repository.restock(sku, (request.body as Static<typeof RestockBody>).qty);
        if (!stock) throw new HttpProblem(404, "not-found", "No such product", sku);
        return stock;
      },
    );
  });

  if (!ctx.config.patterns.asyncSaga) {
    // The synchronous "before" architecture: the order service calls these in a chain, with no bus.
    const OrderParams = Type.Object({ orderId: Type.String({ maxLength: 64 }) });
    const ReserveBody = Type.Object({
      items: Type.Array(Type.Object({ sku: Sku, qty: Type.Integer({ minimum: 1 }) }), { minItems: 1 }),
    });
    service.app.post(
      "/internal/reservations/:orderId",
      { schema: { params: OrderParams, body: ReserveBody }, config: { auth: "service" } },
      async (request, reply) => {
        const now = ctx.clock.now();
        const result = await db
          .transaction()
          .execute((trx) =>
            repository.reserve(
              trx,
              request.params.orderId,
              request.body.items,
              now,
              now + ctx.config.reservationTtlMs,
            ),
          );
        if (!result.ok) return reply.code(409).send(result);
        return result;
      },
    );
    for (const action of ["commit", "release"] as const) {
      service.app.post(
        `/internal/reservations/:orderId/${action}`,
        { schema: { params: OrderParams }, config: { auth: "service" } },
        async (request) => {
          const now = ctx.clock.now();
          const done = await db
            .transaction()
            .execute((trx) =>
              action === "commit"
                ? repository.confirm(trx, request.params.orderId, now)
                : repository.release(trx, request.params.orderId, now),
            );
          return { done };
        },
      );
    }
  }

  const subscriptions: Subscription[] = [];
  const expiry = sweeper(ctx, "reservation-expiry", async () => {
    for (const orderId of await repository.expiredOrders(ctx.clock.now())) {
      await db.transaction().execute((trx) => repository.expire(trx, orderId, ctx.clock.now()));
    }
  });

  const workers: Worker = {
    start() {
      subscriptions.push(
        subscribeEvents(ctx, {
          topic: TOPICS.orders,
          group: "inventory",
          handlers: {
            [OrderCreated.type]: async (order, once) => {
              await once(async (trx, emit) => {
                const now = ctx.clock.now();
                const result = await repository.reserve(
                  trx,
                  order.orderId,
                  order.items,
                  now,
                  now + ctx.config.reservationTtlMs,
                );
                if (!result.ok) {
                  await emit(
                    TOPICS.inventory,
                    order.orderId,
                    StockReservationFailed.create({
                      orderId: order.orderId,
                      reason: result.reason,
                      sku: result.sku,
                    }),
                  );
                  return;
                }
                const gone =
                  result.alreadyReserved &&
                  (await repository.statuses(trx, order.orderId)).find(
                    (s) => s === "released" || s === "expired",
                  );
                if (gone) {
                  // A re-drive of an order whose stock was already given back: it cannot go on.
                  await emit(
                    TOPICS.inventory,
                    order.orderId,
                    StockReservationFailed.create({
                      orderId: order.orderId,
                      reason: `reservation-${gone}`,
                      sku: result.items[0]?.sku ?? "",
                    }),
                  );
                  return;
                }
                await emit(
                  TOPICS.inventory,
                  order.orderId,
                  StockReserved.create({
                    orderId: order.orderId,
                    items: result.items,
                    totalCents: result.totalCents,
                    paymentToken: order.paymentToken,
                    expiresAt: now + ctx.config.reservationTtlMs,
                  }),
                );
              });
            },
            [OrderCancelled.type]: async (cancelled, once) => {
              await once((trx) => repository.release(trx, cancelled.orderId, ctx.clock.now()));
            },
          },
        }),
        subscribeEvents(ctx, {
          topic: TOPICS.payments,
          group: "inventory",
          handlers: {
            [PaymentProcessed.type]: async (paid, once) => {
              await once(async (trx, emit) => {
                const committed = await repository.confirm(trx, paid.orderId, ctx.clock.now());
                const statuses = committed ? [] : await repository.statuses(trx, paid.orderId);
                if (committed || (statuses.length > 0 && statuses.every((s) => s === "confirmed"))) {
                  await emit(
                    TOPICS.inventory,
                    paid.orderId,
                    StockCommitted.create({ orderId: paid.orderId }),
                  );
                } else {
                  const reason =
                    statuses.length === 0
                      ? "no-reservation"
                      : `reservation-${statuses.find((s) => s !== "confirmed")}`;
                  await emit(
                    TOPICS.inventory,
                    paid.orderId,
                    StockCommitFailed.create({ orderId: paid.orderId, reason }),
                  );
                }
              });
            },
          },
        }),
      );
      expiry.start();
    },
    async stop() {
      await expiry.stop();
      await Promise.all(subscriptions.splice(0).map((s) => s.stop()));
    },
  };
  return { service, repository, workers };
}

import { Type } from "@sinclair/typebox";
import type { Kysely } from "kysely";
import { HttpProblem, type Service } from "../../../platform/http/index.ts";
import type { Subscription } from "../../../platform/messaging/index.ts";
import { type CommerceContext, commerceService, sweeper, type Worker } from "../context.ts";
import {
  OrderCancelled,
  PaymentFailed,
  PaymentProcessed,
  PaymentRefunded,
  StockCommitFailed,
  StockReserved,
  TOPICS,
} from "../events.ts";
import { type Once, subscribeEvents, transact } from "../saga/subscribe.ts";
import {
  AmbiguousOutcomeError,
  type ChargeOutcome,
  GatewayUnavailableError,
  type PaymentGateway,
} from "./gateway-client.ts";
import { type PaymentDb, paymentMigrations } from "./migrations.ts";
import { PaymentRepository } from "./payment-repository.ts";

export interface PaymentService {
  service: Service;
  repository: PaymentRepository;
  workers: Worker;
}

/**
 * Charges on StockReserved, refunds on StockCommitFailed or OrderCancelled. Gateway calls happen outside
 * database transactions: the payment row records where the order stands, so a redelivery resumes it.
 */
export async function createPaymentService(
  ctx: CommerceContext,
  gateway: PaymentGateway,
): Promise<PaymentService> {
  await ctx.store.migrate("payment", paymentMigrations);
  const repository = new PaymentRepository(ctx.store.db as Kysely<PaymentDb>);
  const { patterns } = ctx.config;
  const service = commerceService(ctx, "payment");
  service.app.get(
    "/payments/:orderId",
    { schema: { params: Type.Object({ orderId: Type.String({ maxLength: 64 }) }) } },
    async (request) => {
      const payment = await repository.get(request.params.orderId);
      if (!payment) throw new HttpProblem(404, "not-found", "No payment for that order");
      return {
        orderId: payment.order_id,
        status: payment.status,
        amountCents: Number(payment.amount_cents),
        chargeId: payment.charge_id,
        refundId: payment.refund_id,
        reason: payment.reason,
        attempts: payment.attempts,
      };
    },
  );

  async function decide(
    orderId: string,
    amountCents: number,
    token: string,
  ): Promise<ChargeOutcome | { kind: "failed"; reason: string }> {
    try {
      return await gateway.charge(orderId, amountCents, token);
    } catch (err) {
      if (err instanceof AmbiguousOutcomeError && patterns.reconciliation && patterns.idempotency) {
        // Never charge blindly again: ask the gateway what happened to this order's key.
        const found = await gateway.reconcile(orderId);
        if (found) return found;
      }
      // Without retries the "before" architecture gives up on the first failure and cancels the order.
      if (!patterns.retries) return { kind: "failed", reason: reasonOf(err) };
      if (err instanceof AmbiguousOutcomeError && !patterns.reconciliation)
        return { kind: "failed", reason: reasonOf(err) };
      throw err; // nack: the bus redelivers with backoff, and the same key keeps it safe
    }
  }

  async function refund(orderId: string, reason: string, once: Once): Promise<void> {
    const payment = await repository.get(orderId);
    if (!payment?.charge_id || (payment.status !== "captured" && payment.status !== "abandoned")) {
      await once(async () => {});
      return;
    }
    const refunded = await gateway.refund(orderId, payment.charge_id);
    await once(async (trx, emit) => {
      const moved = await repository.move(
        trx,
        orderId,
        ["captured", "abandoned"],
        "refunded",
        ctx.clock.now(),
        {
          refund_id: refunded.refundId,
          reason,
        },
      );
      if (moved) {
        await emit(
          TOPICS.payments,
          orderId,
          PaymentRefunded.create({
            orderId,
            chargeId: payment.charge_id!,
            amountCents: refunded.amountCents,
            reason,
          }),
        );
      }
    });
  }

  if (!ctx.config.patterns.asyncSaga) {
    // The synchronous "before" architecture: the order service asks for the charge and waits for it.
    const ChargeBody = Type.Object({
      amountCents: Type.Integer({ minimum: 0 }),
      token: Type.String({ pattern: "^tok_[A-Za-z0-9_]{1,64}$" }),
    });
    service.app.post(
      "/internal/charges/:orderId",
      {
        schema: { params: Type.Object({ orderId: Type.String({ maxLength: 64 }) }), body: ChargeBody },
        config: { auth: "service" },
      },
      async (request) => {
        const { orderId } = request.params;
        await ctx.units.statements((db) =>
          repository.openAttempt(orderId, request.body.amountCents, ctx.clock.now(), db),
        );
        const outcome = await decide(orderId, request.body.amountCents, request.body.token);
        await inTransaction((trx) =>
          outcome.kind === "captured"
            ? repository.move(trx, orderId, ["charging"], "captured", ctx.clock.now(), {
                charge_id: outcome.chargeId,
              })
            : repository.move(trx, orderId, ["charging"], "failed", ctx.clock.now(), {
                reason: outcome.reason,
              }),
        );
        return outcome;
      },
    );
  }

  /** Runs an effect in a plain transaction: for work not tied to one message (the sweeper, follow-ups). */
  const inTransaction: Once = async (effect) => {
    await transact(ctx.units, ctx.events, effect);
    return { duplicate: false };
  };

  // An order cancelled while its charge was in flight, or a process killed between capture and refund, can
  // leave money taken for a cancelled order. This sweep finds such payments and gives the money back; an
  // abandoned payment with no charge is checked with the gateway once no attempt can still be in flight.
  const inFlightHorizonMs = ctx.config.gatewayTimeoutMs * 8;
  const abandoned = sweeper(ctx, "abandoned-payments", async () => {
    const now = ctx.clock.now();
    for (const p of await repository.abandoned(now - inFlightHorizonMs)) {
      let chargeId = p.charge_id;
      if (!chargeId) {
        const found = await gateway.reconcile(p.order_id);
        if (found?.kind !== "captured") {
          await inTransaction((trx) => repository.move(trx, p.order_id, ["abandoned"], "void", now));
          continue;
        }
        chargeId = found.chargeId;
        await inTransaction((trx) =>
          repository.move(trx, p.order_id, ["abandoned"], "abandoned", now, { charge_id: chargeId }),
        );
      }
      await refund(p.order_id, p.reason ? `order-cancelled:${p.reason}` : "order-cancelled", inTransaction);
    }
  });

  const subscriptions: Subscription[] = [];
  const workers: Worker = {
    start() {
      subscriptions.push(
        subscribeEvents(ctx, {
          topic: TOPICS.inventory,
          group: "payment",
          handlers: {
            [StockReserved.type]: async (reserved, once) => {
              const { orderId } = reserved;
              // Durable before the charge, so a crash leaves an attempt to reconcile; it shares a commit on SQLite.
              const payment = await ctx.units.statements((db) =>
                repository.openAttempt(orderId, reserved.totalCents, ctx.clock.now(), db),
              );
              if (payment.status !== "charging") {
                // A re-drive: say again what already happened, so the saga moves on.
                await once(async (_trx, emit) => {
                  if (payment.status === "captured") {
                    await emit(
                      TOPICS.payments,
                      orderId,
                      PaymentProcessed.create({
                        orderId,
                        chargeId: payment.charge_id!,
                        amountCents: Number(payment.amount_cents),
                      }),
                    );
                  } else if (payment.status === "failed") {
                    await emit(
                      TOPICS.payments,
                      orderId,
                      PaymentFailed.create({ orderId, reason: payment.reason ?? "failed", retryable: false }),
                    );
                  }
                });
                return;
              }
              const outcome = await decide(orderId, reserved.totalCents, reserved.paymentToken);
              let refundAfter = false;
              await once(async (trx, emit) => {
                const now = ctx.clock.now();
                if (outcome.kind === "captured") {
                  if (
                    await repository.move(trx, orderId, ["charging"], "captured", now, {
                      charge_id: outcome.chargeId,
                    })
                  ) {
                    await emit(
                      TOPICS.payments,
                      orderId,
                      PaymentProcessed.create({
                        orderId,
                        chargeId: outcome.chargeId,
                        amountCents: outcome.amountCents,
                      }),
                    );
                  } else {
                    // The order was cancelled while we charged: keep the charge on record and give it back
                    // (now, and durably through the abandoned-payment sweeper if this process dies first).
                    await repository.move(trx, orderId, ["abandoned", "void"], "abandoned", now, {
                      charge_id: outcome.chargeId,
                    });
                    refundAfter = true;
                  }
                  return;
                }
                const reason = outcome.reason;
                if (await repository.move(trx, orderId, ["charging"], "failed", now, { reason })) {
                  await emit(
                    TOPICS.payments,
                    orderId,
                    PaymentFailed.create({ orderId, reason, retryable: false }),
                  );
                }
              });
              if (refundAfter) await refund(orderId, "order-cancelled", inTransaction);
            },
            [StockCommitFailed.type]: async (failed, once) =>
              refund(failed.orderId, `stock-${failed.reason}`, once),
          },
        }),
        subscribeEvents(ctx, {
          topic: TOPICS.orders,
          group: "payment",
          handlers: {
            [OrderCancelled.type]: async (cancelled, once) => {
              const payment = await repository.open(cancelled.orderId, 0, "abandoned", ctx.clock.now());
              if (payment.status === "charging") {
                await once((trx) =>
                  repository.move(trx, cancelled.orderId, ["charging"], "abandoned", ctx.clock.now(), {
                    reason: cancelled.reason,
                  }),
                );
                return;
              }
              await refund(cancelled.orderId, `order-cancelled:${cancelled.reason}`, once);
            },
          },
        }),
      );
      abandoned.start();
    },
    async stop() {
      await abandoned.stop();
      await Promise.all(subscriptions.splice(0).map((s) => s.stop()));
    },
  };
  return { service, repository, workers };
}

function reasonOf(err: unknown): string {
  if (err instanceof AmbiguousOutcomeError) return "gateway-no-answer";
  if (err instanceof GatewayUnavailableError) return "gateway-unavailable";
  return (err as { code?: string }).code ?? "gateway-error";
}

import { type Static, Type } from "@sinclair/typebox";
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import {
  createService,
  HttpProblem,
  type Service,
  type ServiceExtension,
} from "../../../platform/http/index.ts";
import {
  type IdempotencyDb,
  IdempotencyStore,
  idempotencyMigrations,
  registerIdempotency,
} from "../../../platform/idempotency/index.ts";
import { type Random, seededRandom, uniform } from "../../../platform/random/index.ts";
import { GroupCommit, type Store } from "../../../platform/storage/index.ts";
import { type Clock, systemClock } from "../../../platform/time/index.ts";
import { type GatewayFaults, GatewayFaultsSchema, NO_FAULTS } from "./faults.ts";
import { type Charge, GatewayLedger, type Refund } from "./ledger.ts";
import { type GatewayDb, gatewayMigrations } from "./migrations.ts";

const ChargeBody = Type.Object(
  {
    amountCents: Type.Integer({ minimum: 1, maximum: 100_000_000 }),
    currency: Type.String({ pattern: "^[a-z]{3}$" }),
    // A payment token, never a card number: the pattern refuses digits-only PANs.
    source: Type.String({ pattern: "^tok_[A-Za-z0-9_]{1,64}$" }),
    reference: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  { additionalProperties: false },
);

const RefundBody = Type.Object(
  {
    chargeId: Type.String({ pattern: "^ch_[a-f0-9]{32}$" }),
    amountCents: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);

export interface GatewayServiceOptions {
  store: Store;
  logger: Logger;
  registry?: Registry;
  http?: { host?: string; port?: number };
  admin?: { enabled: boolean; token?: string };
  faults?: Partial<GatewayFaults>;
  clock?: Clock;
  extensions?: readonly ServiceExtension[];
}

export interface GatewayService extends Service {
  readonly ledger: GatewayLedger;
  faults(): GatewayFaults;
  setFaults(faults: Partial<GatewayFaults>): void;
}

/**
 * A simulated payment service provider (PSP) with Stripe's idempotency semantics and configurable faults.
 * Its ledger is the ground truth for "was this customer charged?".
 */
export async function createGatewayService(options: GatewayServiceOptions): Promise<GatewayService> {
  const { store } = options;
  await store.migrate("gateway", gatewayMigrations);
  await store.migrate("idempotency", idempotencyMigrations);
  const clock = options.clock ?? systemClock;
  const ledger = new GatewayLedger(store.db as Kysely<GatewayDb>);
  // Concurrent charges share a commit on SQLite, as the merchant's saga does (see GroupCommit).
  const units = new GroupCommit(store);
  let faults: GatewayFaults = { ...NO_FAULTS, ...options.faults };
  let random: Random = seededRandom(faults.seed);

  const service = createService({
    name: "payment-gateway",
    logger: options.logger,
    ...(options.registry ? { registry: options.registry } : {}),
    http: options.http ?? {},
    ...(options.admin ? { admin: options.admin } : {}),
    shutdown: { readinessGraceMs: 0 },
    readiness: { store: () => store.ping() },
    ...(options.extensions ? { extensions: options.extensions } : {}),
  });
  const { app } = service;
  registerIdempotency(app, {
    store: new IdempotencyStore(store.db as Kysely<IdempotencyDb>, {
      clock,
      statements: (fn) => units.statements(fn),
    }),
    enabled: true,
    scope: "gateway",
  });

  // Transport faults happen before the provider does anything, like a load balancer failing in front of it.
  app.addHook("onRequest", async (request) => {
    if (request.method !== "POST") return;
    const delay =
      uniform(random, faults.latencyMinMs, Math.max(faults.latencyMinMs, faults.latencyMaxMs)) +
      (random() < faults.slowRate ? faults.slowMs : 0);
    if (delay > 0) await clock.sleep(delay);
    if (random() < faults.errorRate) {
      throw new HttpProblem(503, "gateway-unavailable", "The payment gateway is temporarily unavailable");
    }
  });

  app.post(
    "/charges",
    { schema: { body: ChargeBody }, config: { idempotency: true } },
    async (request, reply) => {
      const body: Static<typeof ChargeBody> = request.body;
      const declined = body.source.startsWith("tok_decline") || random() < faults.declineRate;
      const loseResponse = random() < faults.lostResponseRate;
      const charge = await units.transaction<Charge>(async (trx) => {
        const recorded = await ledger.recordCharge(trx, {
          amountCents: body.amountCents,
          currency: body.currency,
          source: body.source,
          reference: body.reference ?? null,
          idempotencyKey: request.idempotency?.key ?? null,
          status: declined ? "declined" : "succeeded",
          now: clock.now(),
        });
        const answer = declined ? declineBody(recorded.id, request.url) : recorded;
        await request.idempotency?.finishWith(trx, declined ? 402 : 201, answer);
        return recorded;
      });
      if (loseResponse) return dropConnection(reply);
      if (declined)
        return reply.code(402).type("application/problem+json").send(declineBody(charge.id, request.url));
      return reply.code(201).send(charge);
    },
  );

  app.post(
    "/refunds",
    { schema: { body: RefundBody }, config: { idempotency: true } },
    async (request, reply) => {
      const body: Static<typeof RefundBody> = request.body;
      const loseResponse = random() < faults.lostResponseRate;
      const refund = await units.transaction<Refund>(async (trx) => {
        const charge = await ledger.charge(body.chargeId, trx);
        if (!charge) throw new HttpProblem(404, "not-found", "No such charge", body.chargeId);
        const amount = body.amountCents ?? charge.amountCents - charge.refundedCents;
        const recorded = await ledger.recordRefund(trx, {
          chargeId: body.chargeId,
          amountCents: amount,
          idempotencyKey: request.idempotency?.key ?? null,
          now: clock.now(),
        });
        if (!recorded) {
          throw new HttpProblem(
            409,
            "refund-exceeds-charge",
            "The refund exceeds what remains of the charge",
            undefined,
            {
              errors: [
                {
                  field: "body.amountCents",
                  message: `at most ${charge.amountCents - charge.refundedCents}`,
                },
              ],
            },
          );
        }
        await request.idempotency?.finishWith(trx, 201, recorded);
        return recorded;
      });
      if (loseResponse) return dropConnection(reply);
      return reply.code(201).send(refund);
    },
  );

  app.get(
    "/charges",
    {
      schema: { querystring: Type.Object({ idempotencyKey: Type.String({ minLength: 1, maxLength: 255 }) }) },
    },
    async (request) => {
      const charge = await ledger.chargeByIdempotencyKey(request.query.idempotencyKey);
      if (!charge) throw new HttpProblem(404, "not-found", "No charge with that idempotency key");
      return charge;
    },
  );
  app.get("/charges/:id", { schema: { params: Type.Object({ id: Type.String() }) } }, async (request) => {
    const charge = await ledger.charge(request.params.id);
    if (!charge) throw new HttpProblem(404, "not-found", "No such charge");
    return charge;
  });
  app.get("/ledger", async () => ledger.all());

  const setFaults = (next: Partial<GatewayFaults>) => {
    faults = { ...faults, ...next };
    if (next.seed !== undefined) random = seededRandom(faults.seed);
    service.logger.info({ faults }, "gateway faults changed");
  };
  service.registerAdmin(async (admin) => {
    admin.get("/faults", async () => faults);
    admin.put("/faults", { schema: { body: Type.Partial(GatewayFaultsSchema) } }, async (request) => {
      setFaults(request.body as Partial<GatewayFaults>);
      return faults;
    });
  });

  return Object.assign(service, { ledger, faults: () => faults, setFaults });
}

function declineBody(chargeId: string, instance: string) {
  return {
    type: "https://bulwark.dev/problems/card-declined",
    title: "The card was declined",
    status: 402,
    code: "card_declined",
    chargeId,
    instance,
  };
}

function dropConnection(reply: import("fastify").FastifyReply) {
  // The charge is committed; the caller never hears about it, as when a response is lost on the network.
  reply.hijack();
  reply.raw.socket?.resetAndDestroy();
  return reply;
}

import { type Static, Type } from "@sinclair/typebox";
import { Section } from "../../platform/config/index.ts";
import { GatewayFaultsSchema } from "./gateway/faults.ts";

const Switch = (description: string) => Type.Boolean({ default: true, description });

/** The commerce case's settings: its patterns (each a switch for the lab), ports, deadlines and gateway faults. */
export const CommerceConfigSchema = Section({
  enabled: Type.Boolean({ default: true, description: "start the commerce services with the system" }),
  patterns: Section({
    idempotency: Switch("Idempotency-Key on POST /orders, and keys on every gateway call"),
    retries: Switch("retry gateway calls with exponential backoff and jitter"),
    reconciliation: Switch("on an ambiguous gateway outcome, ask the gateway before deciding"),
    outbox: Switch("events written in the state change's transaction (off: published after commit)"),
    atomicReservation: Switch("reserve stock with a conditional update (off: read, then write)"),
    asyncSaga: Switch("choreographed saga over the bus (off: synchronous HTTP call chain)"),
  }),
  ports: Section({
    order: Type.Integer({ minimum: 0, maximum: 65535, default: 3001 }),
    inventory: Type.Integer({ minimum: 0, maximum: 65535, default: 3002 }),
    payment: Type.Integer({ minimum: 0, maximum: 65535, default: 3003 }),
    gateway: Type.Integer({ minimum: 0, maximum: 65535, default: 3004 }),
  }),
  reservationTtlMs: Type.Integer({ minimum: 1000, default: 15 * 60_000 }),
  sagaDeadlineMs: Type.Integer({
    minimum: 100,
    default: 60_000,
    description: "a PENDING order older than this is re-driven",
  }),
  maxRedrives: Type.Integer({
    minimum: 0,
    default: 3,
    description: "re-drives before an unpaid stuck order is cancelled",
  }),
  sweepIntervalMs: Type.Integer({ minimum: 10, default: 5_000 }),
  gatewayTimeoutMs: Type.Integer({ minimum: 10, default: 2_000 }),
  gatewayUrl: Type.Optional(
    Type.String({ pattern: "^https?://", description: "defaults to the built-in simulator" }),
  ),
  gatewayFaults: Type.Partial(GatewayFaultsSchema, { default: {} }),
  demoCatalog: Type.Boolean({
    default: true,
    description: "seed a small catalog at start when the store is empty",
  }),
});

export type CommerceConfig = Static<typeof CommerceConfigSchema>;

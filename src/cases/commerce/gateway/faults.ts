import { type Static, Type } from "@sinclair/typebox";

const Rate = (description: string) => Type.Number({ minimum: 0, maximum: 1, default: 0, description });

/** How the simulated payment provider misbehaves. All rates are probabilities per request. */
export const GatewayFaultsSchema = Type.Object(
  {
    errorRate: Rate("answer 503 before doing anything (safe to retry)"),
    declineRate: Rate("decline the card: 402, recorded as a declined charge, not retryable"),
    lostResponseRate: Rate("apply the charge or refund, then reset the connection: an ambiguous outcome"),
    latencyMinMs: Type.Integer({ minimum: 0, default: 0 }),
    latencyMaxMs: Type.Integer({ minimum: 0, default: 0 }),
    slowRate: Rate("add slowMs before processing: the caller may time out while the charge still applies"),
    slowMs: Type.Integer({ minimum: 0, default: 0 }),
    seed: Type.Integer({ default: 42, description: "seeds every fault decision, so runs are reproducible" }),
  },
  { additionalProperties: false },
);

export type GatewayFaults = Static<typeof GatewayFaultsSchema>;

export const NO_FAULTS: GatewayFaults = {
  errorRate: 0,
  declineRate: 0,
  lostResponseRate: 0,
  latencyMinMs: 0,
  latencyMaxMs: 0,
  slowRate: 0,
  slowMs: 0,
  seed: 42,
};

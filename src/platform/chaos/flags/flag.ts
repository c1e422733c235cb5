import { Type } from "@sinclair/typebox";

/** What a failure flag does to a matching request. */
export type FlagFault =
  | { kind: "delay"; ms: number }
  | { kind: "error"; status: number; detail?: string }
  | { kind: "abort" }
  | { kind: "fail_first"; count: number; status: number };

export interface FailureFlag {
  id: string;
  /** HTTP method, or "*" for any. */
  method: string;
  /** A Fastify route pattern ("/orders/:id"), a path prefix ending in "/*", or "*" for every route. */
  route: string;
  fault: FlagFault;
  /** Probability, 0..1, that a matching request is hit (fail_first counts only hit requests). */
  probability: number;
}

/** A flag as listed: for fail_first, how many failures are left. */
export interface FailureFlagView extends FailureFlag {
  remaining?: number;
  hits: number;
}

export const FlagIdSchema = Type.String({ minLength: 1, maxLength: 100, pattern: "^[A-Za-z0-9_.:-]+$" });

export const FlagBodySchema = Type.Object(
  {
    method: Type.String({ minLength: 1, maxLength: 10, pattern: "^(\\*|[A-Za-z]+)$", default: "*" }),
    route: Type.String({ minLength: 1, maxLength: 500, pattern: "^(\\*|/.*)$" }),
    probability: Type.Number({ minimum: 0, maximum: 1, default: 1 }),
    fault: Type.Object({ kind: Type.String() }),
  },
  { additionalProperties: false },
);

const Status = Type.Integer({ minimum: 400, maximum: 599 });

export const FaultSchemas = {
  delay: Type.Object({ kind: Type.Literal("delay"), ms: Type.Integer({ minimum: 0, maximum: 600_000 }) }),
  error: Type.Object({
    kind: Type.Literal("error"),
    status: Type.Integer({ ...Status, default: 503 }),
    detail: Type.Optional(Type.String({ maxLength: 500 })),
  }),
  abort: Type.Object({ kind: Type.Literal("abort") }),
  fail_first: Type.Object({
    kind: Type.Literal("fail_first"),
    count: Type.Integer({ minimum: 1 }),
    status: Type.Integer({ ...Status, default: 503 }),
  }),
} as const;

import type { FastifyError, FastifyInstance } from "fastify";
import { HttpProblem, isHttpProblem, sendProblem } from "../../http/index.ts";
import { type ChaosError, isChaosError } from "../errors.ts";

const TYPES: Record<ChaosError["code"], string> = {
  BWK_ERR_CHAOS_DISABLED: "chaos-disabled",
  BWK_ERR_CHAOS_VALIDATION: "validation",
  BWK_ERR_CHAOS_NOT_FOUND: "not-found",
  BWK_ERR_CHAOS_CONFLICT: "conflict",
  BWK_ERR_CHAOS_EXPERIMENT_INVALID: "validation",
};

const TITLES: Record<number, string> = {
  400: "The request is invalid",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
};

export function toProblem(error: ChaosError): HttpProblem {
  return new HttpProblem(error.status, TYPES[error.code], TITLES[error.status] ?? "Error", error.message, {
    code: error.code,
    ...(error.errors.length > 0 ? { errors: error.errors } : {}),
  });
}

/** Answers every error of `app` as RFC 9457 problem+json, never with internals. */
export function useProblemErrors(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isChaosError(error)) return sendProblem(reply, toProblem(error));
    if (isHttpProblem(error)) return sendProblem(reply, error);
    const status = error.statusCode ?? 500;
    if (status < 500) {
      const field = status === 400 ? [{ field: "(body)", message: error.message }] : [];
      return sendProblem(
        reply,
        new HttpProblem(status, "bad-request", "The request is invalid", error.message, { errors: field }),
      );
    }
    request.log.error({ err: error }, "request failed");
    return sendProblem(reply, new HttpProblem(500, "internal", "Internal Server Error"));
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      new HttpProblem(404, "not-found", "Not Found", `no route for ${request.method} ${request.url}`),
    ),
  );
}

import { AsyncLocalStorage } from "node:async_hooks";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { HttpProblem } from "./problem.ts";

/**
 * `x-deadline-ms`: the milliseconds the caller will still wait for this answer. Relative, like gRPC's
 * `grpc-timeout`, so caller and callee clocks need not agree; each hop sends what is left of its own deadline.
 */
export const DEADLINE_HEADER = "x-deadline-ms";

/** Up to 9 digits (about 11.5 days): anything longer is a mistake, not a deadline. */
const DEADLINE_VALUE = /^\d{1,9}$/;

declare module "fastify" {
  interface FastifyRequest {
    /**
     * When the caller stops waiting, on the `performance.now()` scale (the same as `systemClock.monotonic()`
     * and the resilience policies' `deadline`); undefined when the caller sent no `x-deadline-ms`.
     */
    deadline: number | undefined;
  }
}

const current = new AsyncLocalStorage<number>();

/** The deadline of the request being handled (see `FastifyRequest.deadline`), if it carried one. */
export function currentDeadline(): number | undefined {
  return current.getStore();
}

/** Milliseconds left until `deadline` (never negative); Infinity without a deadline. */
export function remainingMs(deadline: number | undefined, now = performance.now()): number {
  if (deadline === undefined || deadline === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  return Math.max(0, deadline - now);
}

/**
 * The header value to send on an outgoing call: what is left of `deadline` minus `marginMs` (the time the answer
 * needs to travel back), floored at 0. Undefined when there is no deadline to pass on.
 */
export function deadlineHeaderValue(
  deadline: number | undefined,
  marginMs = 0,
  now = performance.now(),
): string | undefined {
  const left = remainingMs(deadline, now);
  if (left === Number.POSITIVE_INFINITY) return undefined;
  return String(Math.max(0, Math.floor(left - marginMs)));
}

/**
 * Parses an `x-deadline-ms` value into milliseconds. Undefined when absent; a problem (400, naming the header)
 * when malformed, because a caller that means to bound its wait and gets the number wrong should learn it now,
 * not wait forever.
 */
export function parseDeadlineHeader(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !DEADLINE_VALUE.test(value)) {
    throw new HttpProblem(
      400,
      "bad-request",
      "Bad Request",
      `${DEADLINE_HEADER} must be whole milliseconds`,
      {
        errors: [{ field: `headers.${DEADLINE_HEADER}`, message: "must be an integer of 0 to 9 digits" }],
      },
    );
  }
  return Number(value);
}

/**
 * Turns `x-deadline-ms` into `request.deadline` and makes it the current deadline (`currentDeadline()`) for the
 * request's hooks and handler, so outgoing calls made anywhere below it get only the time that is left.
 */
export function installDeadlines(app: FastifyInstance): void {
  app.decorateRequest("deadline", undefined);
  app.addHook("onRequest", (request: FastifyRequest, _reply, done) => {
    let ms: number | undefined;
    try {
      ms = parseDeadlineHeader(request.headers[DEADLINE_HEADER]);
    } catch (err) {
      done(err as Error);
      return;
    }
    if (ms === undefined) return done();
    const deadline = performance.now() + ms;
    request.deadline = deadline;
    current.run(deadline, done);
  });
  // Body parsing may resume outside the request's async context; re-enter it for the handler.
  app.addHook("preHandler", (request: FastifyRequest, _reply, done) => {
    if (request.deadline === undefined) return done();
    current.run(request.deadline, done);
  });
}

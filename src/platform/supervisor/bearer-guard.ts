import { timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { bearerChallenge, bearerTokenOf } from "../http/index.ts";

/**
 * An `onRequest` hook that rejects (401 problem+json, with a `WWW-Authenticate: Bearer realm="<realm>"`
 * challenge) any request without `Authorization: Bearer <token>`.
 */
export function bearerTokenGuard(
  token: string,
  realm: string,
): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  if (token.length < 16) throw new Error("the control token must be at least 16 characters");
  const expected = Buffer.from(token);
  return async (request, reply) => {
    const presented = Buffer.from(bearerTokenOf(request.headers.authorization) ?? "");
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
      throw bearerChallenge(reply, realm, "A valid token is required", "send Authorization: Bearer <token>");
    }
  };
}

/** Control and chaos APIs bind to loopback only; a typo must not expose them. */
export function assertLoopbackHost(host: string): void {
  if (!["127.0.0.1", "::1", "localhost"].includes(host)) {
    throw new Error(`refusing to bind a control API to ${host}: loopback only (127.0.0.1, ::1, localhost)`);
  }
}

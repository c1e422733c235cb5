import type { FastifyReply } from "fastify";
import { HttpProblem } from "./problem.ts";

/** The token of an `Authorization: Bearer <token>` header (RFC 6750: the scheme in any case), if there is one. */
export function bearerTokenOf(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+([\x21-\x7e]{1,4096})$/i.exec(header) : null;
  return match?.[1];
}

/** The 401 for a missing or bad bearer token, with the WWW-Authenticate challenge RFC 6750 (section 3) asks for. */
export function bearerChallenge(
  reply: FastifyReply,
  realm: string,
  title: string,
  detail: string,
): HttpProblem {
  reply.header("www-authenticate", `Bearer realm="${realm}"`);
  return new HttpProblem(401, "unauthenticated", title, detail);
}

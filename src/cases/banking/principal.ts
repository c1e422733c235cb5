import type { FastifyReply, FastifyRequest } from "fastify";
import { bearerTokenOf, HttpProblem } from "../../platform/http/index.ts";
import { tracedFetch } from "../../platform/observability/index.ts";

/** Who a bearer token speaks for, once validated. `exp` is in seconds since the epoch (JWT NumericDate). */
export interface Principal {
  customerId: string;
  clientId: string;
  jti: string;
  exp: number;
}

/**
 * The port accounts and history authenticate through. Throws {@link UnauthorizedError} for an invalid, expired
 * or revoked token, and {@link DependencyUnavailableError} when it cannot tell (auth is down and there is no
 * fallback).
 */
export interface Authenticator {
  authenticate(bearerToken: string, signal?: AbortSignal): Promise<Principal>;
}

export class UnauthorizedError extends Error {
  readonly code = "BWK_ERR_BANKING_UNAUTHORIZED";
  readonly isUnauthorizedError = true;
  constructor(message = "the bearer token is invalid, expired or revoked", options?: ErrorOptions) {
    super(message, options);
    this.name = "UnauthorizedError";
  }
}

export class DependencyUnavailableError extends Error {
  readonly code = "BWK_ERR_BANKING_DEPENDENCY_UNAVAILABLE";
  readonly isDependencyUnavailableError = true;
  readonly dependency: string;
  constructor(dependency: string, message?: string, options?: ErrorOptions) {
    super(message ?? `${dependency} is unavailable`, options);
    this.name = "DependencyUnavailableError";
    this.dependency = dependency;
  }
}

export function isUnauthorizedError(err: unknown): err is UnauthorizedError {
  return (err as { isUnauthorizedError?: unknown } | null)?.isUnauthorizedError === true;
}

export function isDependencyUnavailableError(err: unknown): err is DependencyUnavailableError {
  return (err as { isDependencyUnavailableError?: unknown } | null)?.isDependencyUnavailableError === true;
}

/** The shape of RFC 7662's answer, as auth's `/introspect` gives it. */
export interface IntrospectionResponse {
  active: boolean;
  sub?: string;
  client_id?: string;
  exp?: number;
  jti?: string;
}

/** A principal from an active introspection answer; `undefined` when it is inactive or incomplete. */
export function principalFromIntrospection(body: IntrospectionResponse): Principal | undefined {
  if (!body.active || !body.sub || !body.client_id || !body.jti || typeof body.exp !== "number") {
    return undefined;
  }
  return { customerId: body.sub, clientId: body.client_id, jti: body.jti, exp: body.exp };
}

export interface IntrospectionAuthenticatorOptions {
  /** Base URL of the auth service, read per call (it may only be known once auth listens). */
  authUrl: () => string;
  /** Presented in `x-api-key`: `/introspect` is a service-to-service route. */
  serviceKey?: string;
}

/**
 * The plain authenticator: one HTTP call to auth's `/introspect` per request, no timeout, no breaker, no
 * fallback. It is what the "before" architecture does; the resilient one lives in `clients/`.
 */
export function introspectionAuthenticator(options: IntrospectionAuthenticatorOptions): Authenticator {
  return {
    async authenticate(token, signal) {
      let response: Response;
      try {
        response = await tracedFetch(`${options.authUrl()}/introspect`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(options.serviceKey ? { "x-api-key": options.serviceKey } : {}),
          },
          body: JSON.stringify({ token }),
          ...(signal ? { signal } : {}),
        });
      } catch (err) {
        throw new DependencyUnavailableError("auth", `auth is unreachable: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        throw new DependencyUnavailableError("auth", `auth answered ${response.status} to /introspect`);
      }
      const principal = principalFromIntrospection((await response.json()) as IntrospectionResponse);
      if (!principal) throw new UnauthorizedError();
      return principal;
    },
  };
}

declare module "fastify" {
  interface FastifyRequest {
    /** Set on routes that require a bearer token, once it is validated. */
    principal?: Principal;
  }
}

/**
 * A Fastify hook that authenticates the bearer token through `authenticator` and sets `request.principal`:
 * 401 without a valid token, 503 + Retry-After when the authenticator cannot tell.
 */
export function authenticateRequest(authenticator: Authenticator) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const token = bearerTokenOf(request.headers.authorization);
    if (!token) {
      reply.header("www-authenticate", 'Bearer realm="bulwark-banking"');
      throw new HttpProblem(
        401,
        "unauthenticated",
        "A bearer token is required",
        "send Authorization: Bearer <token>",
      );
    }
    try {
      request.principal = await authenticator.authenticate(token);
    } catch (err) {
      if (isUnauthorizedError(err)) {
        reply.header("www-authenticate", 'Bearer realm="bulwark-banking", error="invalid_token"');
        throw new HttpProblem(401, "unauthenticated", "The bearer token is not valid", err.message);
      }
      if (isDependencyUnavailableError(err)) {
        reply.header("retry-after", "1");
        throw new HttpProblem(503, "dependency-unavailable", "Cannot check the token now", err.message, {
          dependency: err.dependency,
        });
      }
      throw err;
    }
  };
}

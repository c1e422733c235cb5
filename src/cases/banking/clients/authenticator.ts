import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from "jose";
import { Counter, type Registry } from "prom-client";
import { type Clock, systemClock } from "../../../platform/time/index.ts";
import type { BankingConfig } from "../config.ts";
import {
  type Authenticator,
  DependencyUnavailableError,
  type IntrospectionResponse,
  isUnauthorizedError,
  type Principal,
  principalFromIntrospection,
  UnauthorizedError,
} from "../principal.ts";
import { failureReason, type OutgoingCalls } from "./outgoing.ts";

export const TOKEN_ISSUER = "bulwark-auth";
export const TOKEN_AUDIENCE = "bulwark-banking";

export interface ResilientAuthenticatorOptions {
  config: BankingConfig;
  calls: OutgoingCalls;
  clock?: Clock;
  /** How often the revocation cache and the keys are refreshed from auth. Milliseconds, default 1 000. */
  refreshMs?: number;
  logger?: { warn(obj: object, msg: string): void };
  /** Exports `bulwark_banking_token_checks_total{how="online|local|rejected|unavailable"}`. */
  registry?: Registry;
}

/** Counts of how tokens were checked, for tests, metrics and the lab. */
export interface AuthenticatorStats {
  online: number;
  local: number;
  rejected: number;
  unavailable: number;
}

/**
 * The token check of every banking service: auth's `/introspect` under the `auth` dependency's stack (breaker,
 * the short `authCheckTimeoutMs` within the caller's deadline, retry of transient failures within a budget).
 * When that fails and fallbacks are on, the token is verified locally: signature against auth's JWKS (cached),
 * issuer, audience and expiry, and its `jti` against a revocation cache refreshed every second from
 * `/revocations`. A token revoked while auth is unreachable is therefore accepted until auth answers again or
 * the token expires (at most `tokenTtlSeconds`): the price of staying up.
 */
export class ResilientAuthenticator implements Authenticator {
  readonly stats: AuthenticatorStats = { online: 0, local: 0, rejected: 0, unavailable: 0 };
  readonly #config: BankingConfig;
  readonly #calls: OutgoingCalls;
  readonly #clock: Clock;
  readonly #refreshMs: number;
  readonly #logger: ResilientAuthenticatorOptions["logger"];
  readonly #counter: Counter<"how"> | undefined;
  /** jti → wall ms when we learnt of its revocation; dropped once every token it could be is expired. */
  readonly #revoked = new Map<string, number>();
  #keys: ReturnType<typeof createLocalJWKSet> | undefined;
  #keysJson = "";
  #revocationsAsOf: number | undefined;
  #timer: { cancel(): void } | undefined;
  #refreshing: Promise<void> | undefined;
  #stopped = true;
  /** Aborts a refresh in flight at stop (with timeouts off it could otherwise wait forever). */
  #lifetime = new AbortController();

  constructor(options: ResilientAuthenticatorOptions) {
    this.#config = options.config;
    this.#calls = options.calls;
    this.#clock = options.clock ?? systemClock;
    this.#refreshMs = options.refreshMs ?? 1_000;
    this.#logger = options.logger;
    // Several banking systems may share one registry (split roles in one process): they share the counter.
    const name = "bulwark_banking_token_checks_total";
    this.#counter = options.registry
      ? ((options.registry.getSingleMetric(name) as Counter<"how"> | undefined) ??
        new Counter({
          name,
          help: "Bearer token checks, by how they were decided: online (auth), local (fallback), rejected, unavailable",
          labelNames: ["how"],
          registers: [options.registry],
        }))
      : undefined;
  }

  #count(how: keyof AuthenticatorStats): void {
    this.stats[how]++;
    this.#counter?.inc({ how });
  }

  /** Whether keys for local verification are cached (the fallback can work). */
  get hasKeys(): boolean {
    return this.#keys !== undefined;
  }

  /** Starts refreshing keys and revocations in the background; resolves after the first attempt. */
  async start(): Promise<void> {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#lifetime = new AbortController();
    await this.refresh();
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#lifetime.abort();
    await this.#refreshing;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => {
      void this.refresh().finally(() => this.#schedule());
    }, this.#refreshMs);
  }

  /** Fetches the keys and the revocations since the last refresh; failures are logged and retried next time. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refresh(): Promise<void> {
    if (!this.#config.patterns.fallbacks) return;
    try {
      const since = this.#revocationsAsOf ?? 0;
      const [keys, revocations] = await Promise.all([
        this.#calls.call<JSONWebKeySet>("auth", {
          path: "/.well-known/jwks.json",
          budgetMs: this.#config.callTimeoutMs,
          deadline: Number.POSITIVE_INFINITY,
          signal: this.#lifetime.signal,
        }),
        this.#calls.call<{ jtis: string[]; asOf: number }>("auth", {
          // A little overlap, so a revocation committed just before the previous asOf is not missed.
          path: `/revocations?since=${Math.max(0, since - 5_000)}`,
          budgetMs: this.#config.callTimeoutMs,
          deadline: Number.POSITIVE_INFINITY,
          signal: this.#lifetime.signal,
        }),
      ]);
      if (keys.status === 200) {
        const json = JSON.stringify(keys.body);
        if (json !== this.#keysJson) {
          this.#keys = createLocalJWKSet(keys.body);
          this.#keysJson = json;
        }
      }
      if (revocations.status === 200) {
        const now = this.#clock.now();
        for (const jti of revocations.body.jtis) if (!this.#revoked.has(jti)) this.#revoked.set(jti, now);
        this.#revocationsAsOf = revocations.body.asOf;
        const horizon = now - this.#config.tokenTtlSeconds * 1000;
        for (const [jti, at] of this.#revoked) if (at < horizon) this.#revoked.delete(jti);
      }
    } catch (err) {
      this.#logger?.warn({ reason: failureReason(err) }, "could not refresh auth keys and revocations");
    }
  }

  /** Marks a token revoked locally at once (this process revoked it). */
  noteRevoked(jti: string): void {
    this.#revoked.set(jti, this.#clock.now());
  }

  async authenticate(token: string, signal?: AbortSignal, deadline?: number): Promise<Principal> {
    let onlineFailure: unknown;
    try {
      const answer = await this.#calls.call<IntrospectionResponse>("auth", {
        method: "POST",
        path: "/introspect",
        body: { token },
        idempotent: true,
        budgetMs: this.#config.authCheckTimeoutMs,
        ...(deadline !== undefined ? { deadline } : {}),
        ...(signal ? { signal } : {}),
      });
      if (answer.status === 200) {
        const principal = principalFromIntrospection(answer.body);
        if (!principal) {
          this.#count("rejected");
          throw new UnauthorizedError();
        }
        this.#count("online");
        return principal;
      }
      onlineFailure = new Error(`auth answered ${answer.status} to /introspect`);
    } catch (err) {
      if (isUnauthorizedError(err)) throw err;
      onlineFailure = err;
    }
    if (!this.#config.patterns.fallbacks || this.#keys === undefined) {
      this.#count("unavailable");
      throw new DependencyUnavailableError(
        "auth",
        `cannot check the token: ${failureReason(onlineFailure)}`,
        {
          cause: onlineFailure,
        },
      );
    }
    return this.#verifyLocally(token);
  }

  async #verifyLocally(token: string): Promise<Principal> {
    try {
      const { payload } = await jwtVerify(token, this.#keys!, {
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        currentDate: new Date(this.#clock.now()),
      });
      const { sub, jti, exp } = payload;
      const clientId = payload.client_id;
      if (!sub || !jti || typeof exp !== "number" || typeof clientId !== "string") {
        throw new Error("token lacks sub, jti, exp or client_id");
      }
      if (this.#revoked.has(jti)) throw new Error("token revoked");
      this.#count("local");
      return { customerId: sub, clientId, jti, exp };
    } catch (err) {
      this.#count("rejected");
      throw new UnauthorizedError("the bearer token is invalid, expired or revoked", { cause: err });
    }
  }
}

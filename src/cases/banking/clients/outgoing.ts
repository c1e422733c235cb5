import { currentDeadline, DEADLINE_HEADER, deadlineHeaderValue } from "../../../platform/http/index.ts";
import { tracedFetch } from "../../../platform/observability/index.ts";
import {
  type BulkheadPolicy,
  bulkhead,
  type CallContext,
  type DependencyPolicyConfig,
  isBrokenCircuitError,
  isBulkheadRejectedError,
  isFailFastRejection,
  isTimeoutError,
  type LoggerLike,
  type MetricsRegistryLike,
  type Policy,
  ResiliencePolicies,
  RetryBudget,
  type RetryPolicy,
  retry,
  wrap,
} from "../../../platform/resilience/index.ts";
import { type Clock, systemClock } from "../../../platform/time/index.ts";
import type { BankingConfig } from "../config.ts";

/** The services banking services call. */
export type BankingDependency = "auth" | "accounts" | "history" | "mobile";
export const BANKING_DEPENDENCIES: readonly BankingDependency[] = ["auth", "accounts", "history", "mobile"];

/** Time kept back from the deadline passed on, for the answer's way back (and the wheel's tick). */
export const DEADLINE_MARGIN_MS = 10;

export interface OutgoingRequest {
  method?: "GET" | "POST" | "PUT" | "DELETE";
  /** Path and query, appended to the dependency's base URL. */
  path: string;
  headers?: Record<string, string | undefined>;
  /** Sent as JSON. */
  body?: unknown;
  /**
   * Whether sending it twice has the effect of sending it once (GET, or a POST carrying an Idempotency-Key).
   * Only these are retried while the retry budget is on. Default: true for GET.
   */
  idempotent?: boolean;
  /** This call's own bound, on top of the caller's deadline (e.g. the token check's short budget). Milliseconds. */
  budgetMs?: number;
  /** The caller's deadline (monotonic ms); default the current request's (`x-deadline-ms`). */
  deadline?: number;
  signal?: AbortSignal;
  /**
   * Present this service's key in `x-api-key` (default true). The gateway turns it off when it forwards a
   * client's request, so a client never acts with the gateway's service identity.
   */
  asService?: boolean;
}

export interface OutgoingResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** A dependency answered 5xx: it failed (counted by its breaker, retried when idempotent). */
export class DownstreamError extends Error {
  readonly code = "BWK_ERR_BANKING_DOWNSTREAM";
  readonly dependency: string;
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
  constructor(dependency: string, status: number, headers: Headers, body: unknown) {
    super(`${dependency} answered ${status}`);
    this.name = "DownstreamError";
    this.dependency = dependency;
    this.status = status;
    this.headers = headers;
    this.body = body;
  }
}

export function isDownstreamError(err: unknown): err is DownstreamError {
  return (err as { code?: unknown } | null)?.code === "BWK_ERR_BANKING_DOWNSTREAM";
}

/** What went wrong with a call, in the words a degraded section or a 5xx problem uses. */
export function failureReason(err: unknown): string {
  if (isBrokenCircuitError(err)) return "circuit-open";
  if (isBulkheadRejectedError(err)) return "bulkhead-full";
  if (isTimeoutError(err)) return "timeout";
  if (isDownstreamError(err)) return `status-${err.status}`;
  if ((err as Error | null)?.name === "AbortError") return "aborted";
  return "unreachable";
}

/**
 * Worth another attempt at once: the dependency was unreachable or said it was briefly unavailable. Not a
 * timeout (the dependency is slow; a second attempt doubles its load, the cascade's amplifier) and not a
 * fail-fast rejection of our own policies.
 */
function transient(err: unknown): boolean {
  if (isFailFastRejection(err) || isTimeoutError(err)) return false;
  if (isDownstreamError(err)) return err.status === 502 || err.status === 503;
  return (err as Error | null)?.name !== "AbortError";
}

/**
 * The stack of one dependency from the switches (retry is composed per call, see {@link OutgoingCalls}):
 * a breaker over the last 20 calls (half of them failing or timing out opens it for 2 s, then 2 probes), a
 * timeout of the dependency's longest call, and a bulkhead of its own.
 */
export function dependencyPolicyConfig(
  config: BankingConfig,
  dependency: BankingDependency,
): DependencyPolicyConfig {
  const { patterns } = config;
  // The gateway's call to the BFF must outlast the BFF's own deadline, which answers degraded in time.
  const longestMs = dependency === "mobile" ? config.mobileDeadlineMs + 200 : config.callTimeoutMs;
  return {
    breaker: patterns.breakers
      ? {
          // The last 20 calls, not the last seconds: a busy dependency that turns bad trips it within 10
          // failures, instead of first outweighing seconds of earlier successes.
          window: { kind: "count", size: 20, failureRate: 0.5, minimumCalls: 10 },
          openMs: 2_000,
          halfOpenProbes: 2,
        }
      : false,
    timeout: patterns.timeouts ? { ms: longestMs } : false,
    bulkhead: patterns.bulkheads ? { maxConcurrent: 24, maxQueue: 24, queueTimeoutMs: 50 } : false,
  };
}

export interface OutgoingCallsOptions {
  config: BankingConfig;
  /** Base URL of a dependency, read per call (a peer may only be known once it listens). */
  baseUrl: (dependency: BankingDependency) => string;
  /** Presented in `x-api-key` on service-to-service routes. */
  serviceKey?: string;
  /** Replaces the stacks built from the switches (the app's `resilience` config, say). */
  policyConfig?: Partial<Record<BankingDependency, DependencyPolicyConfig>>;
  registry?: MetricsRegistryLike;
  logger?: LoggerLike;
  clock?: Clock;
}

/**
 * Every outgoing call of a banking service: fetch under the dependency's stack from `ResiliencePolicies`
 * (breaker, timeout, bulkhead), a retry for idempotent calls within a per-dependency retry budget, the
 * caller's remaining deadline as the timeout and as `x-deadline-ms` to the callee. Each part follows its
 * switch in `config.patterns`; with all of them off it is the "before" client: no deadline, retries of
 * everything, one shared connection pool for all dependencies.
 */
export class OutgoingCalls {
  readonly policies: ResiliencePolicies;
  readonly #options: OutgoingCallsOptions;
  readonly #config: BankingConfig;
  readonly #clock: Clock;
  readonly #retries = new Map<BankingDependency, Policy>();
  readonly #stacks = new Map<string, Policy>();
  /** With bulkheads off: the one pool every dependency shares (so a slow one can take every slot). */
  readonly sharedPool: BulkheadPolicy | undefined;

  constructor(options: OutgoingCallsOptions) {
    this.#options = options;
    this.#config = options.config;
    this.#clock = options.clock ?? systemClock;
    const stacks: Record<string, DependencyPolicyConfig> = {};
    for (const d of BANKING_DEPENDENCIES) {
      stacks[d] = options.policyConfig?.[d] ?? dependencyPolicyConfig(options.config, d);
    }
    this.policies = new ResiliencePolicies(stacks, {
      ...(options.registry ? { registry: options.registry } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      clock: this.#clock,
    });
    this.sharedPool = options.config.patterns.bulkheads
      ? undefined
      : bulkhead(64, { maxQueue: 100_000, name: "shared-pool", clock: this.#clock });
  }

  /** The retry of a dependency: idempotent transient failures within a budget, or (switch off) everything. */
  retryOf(dependency: BankingDependency): Policy {
    let policy = this.#retries.get(dependency);
    if (policy) return policy;
    const clock = this.#clock;
    policy = this.#config.patterns.retryBudget
      ? retry({
          name: dependency,
          clock,
          maxAttempts: 2,
          retryOn: transient,
          budget: new RetryBudget({ ratio: 0.1, minPerSecond: 2, clock }),
        })
      : retry({ name: dependency, clock, maxAttempts: 3, retryOn: () => true, respectRetryAfter: false });
    this.#retries.set(dependency, policy);
    return policy;
  }

  /** The retry policy's counters, for tests and the lab. */
  retryPolicy(dependency: BankingDependency): RetryPolicy {
    return this.retryOf(dependency) as RetryPolicy;
  }

  #stack(dependency: BankingDependency, retried: boolean): Policy {
    const key = `${dependency}:${retried}`;
    let policy = this.#stacks.get(key);
    if (policy) return policy;
    const parts: Policy[] = [];
    if (retried) parts.push(this.retryOf(dependency));
    parts.push(this.policies.for(dependency));
    if (this.sharedPool) parts.push(this.sharedPool);
    policy = wrap(...parts);
    this.#stacks.set(key, policy);
    return policy;
  }

  /** One call to `dependency`. Resolves for any status below 500; rejects with the failure otherwise. */
  async call<T = unknown>(
    dependency: BankingDependency,
    request: OutgoingRequest,
  ): Promise<OutgoingResponse<T>> {
    const { patterns } = this.#config;
    const method = request.method ?? "GET";
    const idempotent = request.idempotent ?? method === "GET";
    const retried = !patterns.retryBudget || idempotent;
    let deadline: number | undefined;
    if (patterns.timeouts) {
      deadline = request.deadline ?? currentDeadline();
      if (request.budgetMs !== undefined) {
        const own = this.#clock.monotonic() + request.budgetMs;
        deadline = deadline === undefined ? own : Math.min(deadline, own);
      }
    }
    const url = `${this.#options.baseUrl(dependency)}${request.path}`;
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    const send = async (ctx: CallContext): Promise<OutgoingResponse<T>> => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(request.headers ?? {})) if (v !== undefined) headers[k] = v;
      if (body !== undefined) headers["content-type"] = "application/json";
      if (this.#options.serviceKey && request.asService !== false && headers["x-api-key"] === undefined) {
        headers["x-api-key"] = this.#options.serviceKey;
      }
      if (patterns.timeouts) {
        const left = deadlineHeaderValue(ctx.deadline, DEADLINE_MARGIN_MS, this.#clock.monotonic());
        if (left !== undefined) headers[DEADLINE_HEADER] = left;
      }
      const response = await tracedFetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: ctx.signal,
      });
      const text = await response.text();
      const parsed =
        text !== "" && /json/.test(response.headers.get("content-type") ?? "") ? JSON.parse(text) : text;
      if (response.status >= 500)
        throw new DownstreamError(dependency, response.status, response.headers, parsed);
      return { status: response.status, headers: response.headers, body: parsed as T };
    };
    const options =
      deadline !== undefined || request.signal
        ? {
            ...(deadline !== undefined ? { deadline } : {}),
            ...(request.signal ? { signal: request.signal } : {}),
          }
        : undefined;
    return this.#stack(dependency, retried).execute(send, options);
  }
}

import { type Clock, systemClock } from "../time/index.ts";
import type { BreakerStateChange, CircuitBreakerPolicy } from "./breaker/breaker.ts";
import { buildBreaker, buildBulkhead, buildHedge, buildRetry, buildTimeout } from "./build.ts";
import type { BulkheadPolicy } from "./bulkhead/bulkhead.ts";
import type { DependencyPolicyConfig, ResilienceConfig } from "./config.ts";
import { ResilienceConfigError } from "./errors.ts";
import type { HedgePolicy } from "./hedge.ts";
import { type CollectedMetric, collectedMetric, type MetricsRegistryLike, register } from "./metrics.ts";
import type { Policy, Stage } from "./policy.ts";
import type { RetryPolicy } from "./retry/retry.ts";
import type { TimeoutPolicy } from "./timeout.ts";
import { ComposedPolicy } from "./wrap.ts";

/** A pino-like logger; only breaker state changes are logged. */
export interface LoggerLike {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface PoliciesOptions {
  /** prom-client Registry to export metrics to. */
  registry?: MetricsRegistryLike;
  logger?: LoggerLike;
  clock?: Clock;
}

/** The composed stack of one dependency, with its parts exposed for the lab and for dashboards. */
export interface DependencyPolicy extends Policy {
  readonly name: string;
  readonly retry: RetryPolicy | undefined;
  readonly breaker: CircuitBreakerPolicy | undefined;
  readonly hedge: HedgePolicy | undefined;
  readonly timeout: TimeoutPolicy | undefined;
  readonly bulkhead: BulkheadPolicy | undefined;
}

type Counted = Stage & { calls: number; failures: number };

interface Parts {
  retry: RetryPolicy | undefined;
  breaker: CircuitBreakerPolicy | undefined;
  hedge: HedgePolicy | undefined;
  timeout: TimeoutPolicy | undefined;
  bulkhead: BulkheadPolicy | undefined;
}

function partsOf(name: string, c: DependencyPolicyConfig, clock: Clock): Parts {
  return {
    retry: c.retry ? buildRetry(name, c.retry, clock) : undefined,
    breaker: c.breaker ? buildBreaker(name, c.breaker, clock) : undefined,
    hedge: c.hedge ? buildHedge(name, c.hedge, clock) : undefined,
    timeout: c.timeout ? buildTimeout(name, c.timeout, clock) : undefined,
    bulkhead: c.bulkhead ? buildBulkhead(name, c.bulkhead, clock) : undefined,
  };
}

function ordered(p: Parts): Counted[] {
  return [p.retry, p.breaker, p.hedge, p.timeout, p.bulkhead].filter((s) => s !== undefined);
}

/** A composed stack that also exposes its parts; it is the composed policy itself, not a wrapper around it. */
class Dependency extends ComposedPolicy implements DependencyPolicy {
  readonly name: string;
  readonly retry: RetryPolicy | undefined;
  readonly breaker: CircuitBreakerPolicy | undefined;
  readonly hedge: HedgePolicy | undefined;
  readonly timeout: TimeoutPolicy | undefined;
  readonly bulkhead: BulkheadPolicy | undefined;
  readonly #outer: Counted | undefined;

  constructor(name: string, parts: Parts) {
    const stages = ordered(parts);
    super(stages);
    this.name = name;
    this.retry = parts.retry;
    this.breaker = parts.breaker;
    this.hedge = parts.hedge;
    this.timeout = parts.timeout;
    this.bulkhead = parts.bulkhead;
    this.#outer = stages[0];
  }

  /** Calls that entered the stack, as its outermost policy counted them (counting here would cost a layer). */
  get calls(): number {
    return this.#outer?.calls ?? 0;
  }

  /** Errors that left the stack, as its outermost policy counted them. */
  get failures(): number {
    return this.#outer?.failures ?? 0;
  }
}

/** Named dependency stacks built from config, with metrics and state-change logs wired once. */
export class ResiliencePolicies {
  readonly #config: ResilienceConfig;
  readonly #clock: Clock;
  readonly #logger: LoggerLike | undefined;
  readonly #built = new Map<string, Dependency>();

  constructor(config: ResilienceConfig, options: PoliciesOptions = {}) {
    this.#config = config;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger;
    for (const name of Object.keys(config)) if (name !== "default") this.for(name);
    if (options.registry) for (const m of this.#metrics()) register(options.registry, m);
  }

  /** Names of the dependencies built so far. */
  get names(): string[] {
    return [...this.#built.keys()];
  }

  /** The stack for `name`, built once; unknown names use the `default` entry if there is one. */
  for(name: string): DependencyPolicy {
    let dep = this.#built.get(name);
    if (dep !== undefined) return dep;
    const config = this.#config[name] ?? this.#config.default;
    if (config === undefined) {
      throw new ResilienceConfigError(`no resilience policy configured for "${name}" and no "default" entry`);
    }
    dep = new Dependency(name, partsOf(name, config, this.#clock));
    dep.breaker?.onStateChange.add((change) => this.#logChange(change));
    this.#built.set(name, dep);
    return dep;
  }

  #logChange(change: BreakerStateChange): void {
    const obj = { dependency: change.name, from: change.from, to: change.to };
    if (change.to === "open") this.#logger?.warn(obj, "circuit opened");
    else this.#logger?.info(obj, change.to === "closed" ? "circuit closed" : "circuit half-open");
  }

  #each(read: (d: Dependency) => number | undefined): { labels: Record<string, string>; value: number }[] {
    const out: { labels: Record<string, string>; value: number }[] = [];
    for (const d of this.#built.values()) {
      const value = read(d);
      if (value !== undefined) out.push({ labels: { dependency: d.name }, value });
    }
    return out;
  }

  #metrics(): CollectedMetric[] {
    const p = "bulwark_resilience_";
    const rejections = () => {
      const out: { labels: Record<string, string>; value: number }[] = [];
      for (const d of this.#built.values()) {
        const add = (reason: string, value: number | undefined) => {
          if (value !== undefined) out.push({ labels: { dependency: d.name, reason }, value });
        };
        add("circuit_open", d.breaker?.rejections);
        add("bulkhead_full", d.bulkhead?.rejections);
        add("queue_timeout", d.bulkhead?.queueTimeouts);
      }
      return out;
    };
    const perDependency: Array<[string, string, "counter" | "gauge", (d: Dependency) => number | undefined]> =
      [
        ["calls_total", "Calls entering a dependency's policy stack", "counter", (d) => d.calls],
        ["failures_total", "Calls that failed after every policy", "counter", (d) => d.failures],
        ["retries_total", "Retries performed", "counter", (d) => d.retry?.retries],
        ["timeouts_total", "Attempts that hit their deadline", "counter", (d) => d.timeout?.timeouts],
        ["hedges_total", "Hedged attempts started", "counter", (d) => d.hedge?.hedges],
        [
          "breaker_state",
          "Circuit state: 0 closed, 1 open, 2 half-open",
          "gauge",
          (d) => d.breaker?.stateCode,
        ],
        ["bulkhead_active", "Calls running inside the bulkhead", "gauge", (d) => d.bulkhead?.active],
        ["bulkhead_queue_depth", "Calls waiting for a bulkhead slot", "gauge", (d) => d.bulkhead?.queued],
        [
          "concurrency_limit",
          "Current bulkhead limit (moves when adaptive)",
          "gauge",
          (d) => d.bulkhead?.limit,
        ],
      ];
    return [
      ...perDependency.map(([name, help, type, read]) =>
        collectedMetric(p + name, help, type, () => this.#each(read)),
      ),
      collectedMetric(
        `${p}rejections_total`,
        "Calls refused without reaching the dependency",
        "counter",
        rejections,
      ),
    ];
  }
}

/** Builds every configured dependency stack; `.for("payment-gateway")` returns one. */
export function createPolicies(config: ResilienceConfig, options: PoliciesOptions = {}): ResiliencePolicies {
  return new ResiliencePolicies(config, options);
}

import { type Clock, systemClock } from "../../time/index.ts";
import type { Call, CallContext } from "../call.ts";
import { CoarseClock } from "../coarse-clock.ts";
import { BrokenCircuitError, isFailFastRejection, ResilienceConfigError } from "../errors.ts";
import { Listeners } from "../listeners.ts";
import { observe } from "../observe.ts";
import { type Next, type Operation, preRejected, StagePolicy } from "../policy.ts";
import { ConsecutiveWindow, CountWindow, type OutcomeWindow, TimeWindow } from "./window.ts";

export type BreakerState = "closed" | "open" | "half-open";

export interface BreakerStateChange {
  name: string;
  from: BreakerState;
  to: BreakerState;
}

/** How a closed breaker decides to open. */
export type BreakerWindow =
  | { kind: "consecutive"; threshold: number }
  | { kind: "count"; size: number; failureRate: number; slowCallRate?: number; minimumCalls?: number }
  | {
      kind: "time";
      windowMs: number;
      buckets?: number;
      failureRate: number;
      slowCallRate?: number;
      minimumCalls?: number;
    };

export interface CircuitBreakerOptions {
  /** Dependency name, used in errors, events and metrics. */
  name?: string;
  /** Defaults to 5 consecutive failures. */
  window?: BreakerWindow;
  /** A call slower than this counts as slow (for `slowCallRate`). Milliseconds. */
  slowCallMs?: number;
  /** How long the circuit stays open before it lets probes through. Milliseconds, default 30 s. */
  openMs?: number;
  /** Probes permitted while half-open; this many successes close the circuit, one failure reopens it. Default 1. */
  halfOpenProbes?: number;
  /** Which errors count as failures. Default: all but fail-fast rejections of inner policies. */
  isFailure?: (error: unknown) => boolean;
  /** Answers instead of rejecting while the circuit is open. Must return what the protected call returns. */
  fallback?: (error: BrokenCircuitError, ctx: CallContext) => unknown;
  clock?: Clock;
}

const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;
const NAMES: readonly BreakerState[] = ["closed", "open", "half-open"];

function makeWindow(w: BreakerWindow): OutcomeWindow {
  if (w.kind === "consecutive") return new ConsecutiveWindow(w.threshold);
  const t = { failureRate: w.failureRate, slowCallRate: w.slowCallRate, minimumCalls: w.minimumCalls ?? 1 };
  if (w.kind === "count") return new CountWindow(w.size, { ...t, minimumCalls: w.minimumCalls ?? w.size });
  return new TimeWindow(w.windowMs, w.buckets ?? 10, t);
}

function validate(o: CircuitBreakerOptions): void {
  const w = o.window;
  const bad = (msg: string) => {
    throw new ResilienceConfigError(`circuit breaker ${o.name ?? ""}: ${msg}`);
  };
  if ((o.halfOpenProbes ?? 1) < 1) bad("halfOpenProbes must be at least 1");
  if (w === undefined) return;
  if (w.kind === "consecutive" && !(w.threshold >= 1)) bad("threshold must be at least 1");
  if (w.kind !== "consecutive" && !(w.failureRate > 0 && w.failureRate <= 1))
    bad("failureRate must be in (0, 1]");
  if (w.kind === "count" && !(w.size >= 1)) bad("size must be at least 1");
  if (w.kind === "time" && !(w.windowMs > 0)) bad("windowMs must be positive");
}

/**
 * A circuit breaker: closed → open when its window trips, open → half-open after `openMs`, half-open →
 * closed after `halfOpenProbes` successful probes, half-open → open on a failed probe. The closed path
 * allocates nothing per call unless slow calls are measured; an open rejection is a preallocated,
 * stackless error.
 */
export class CircuitBreakerPolicy extends StagePolicy {
  readonly name: string;
  readonly onStateChange = new Listeners<BreakerStateChange>();
  calls = 0;
  /** Outcomes the window recorded, by kind. */
  successes = 0;
  failuresRecorded = 0;
  /** Calls refused while open or while the half-open probes were taken. */
  rejections = 0;
  /** Errors this policy passed to its caller, its own rejections included. */
  failures = 0;

  readonly #window: OutcomeWindow;
  readonly #timed: boolean;
  readonly #slowMs: number;
  readonly #openMs: number;
  readonly #probes: number;
  readonly #isFailure: (error: unknown) => boolean;
  readonly #fallback: ((error: BrokenCircuitError, ctx: CallContext) => unknown) | undefined;
  readonly #clock: Clock;
  readonly #coarse: CoarseClock;
  readonly #openError: BrokenCircuitError;
  readonly #openRejection: Promise<never>;
  #state = CLOSED;
  #epoch = 0;
  #halfOpenAt = 0;
  #probesStarted = 0;
  #probeSuccesses = 0;

  constructor(options: CircuitBreakerOptions = {}) {
    super();
    validate(options);
    this.name = options.name ?? "dependency";
    const window = options.window ?? { kind: "consecutive", threshold: 5 };
    this.#window = makeWindow(window);
    this.#timed = window.kind === "time";
    this.#slowMs = options.slowCallMs ?? Number.POSITIVE_INFINITY;
    this.#openMs = options.openMs ?? 30_000;
    this.#probes = options.halfOpenProbes ?? 1;
    this.#isFailure = options.isFailure ?? ((e) => !isFailFastRejection(e));
    this.#fallback = options.fallback;
    this.#clock = options.clock ?? systemClock;
    this.#coarse = CoarseClock.of(this.#clock);
    this.#openError = new BrokenCircuitError(this.name);
    this.#openRejection = preRejected(this.#openError);
  }

  get state(): BreakerState {
    this.#refresh();
    return NAMES[this.#state]!;
  }

  /** Numeric state for a gauge: 0 closed, 1 open, 2 half-open. */
  get stateCode(): number {
    this.#refresh();
    return this.#state;
  }

  /** Holds the circuit open until `reset()`, e.g. while a dependency is known to be down. */
  isolate(): void {
    this.#transition(OPEN);
    this.#halfOpenAt = Number.POSITIVE_INFINITY;
  }

  reset(): void {
    if (this.#state !== CLOSED) this.#transition(CLOSED);
  }

  // Every path observes the inner promise and returns it unchanged: a breaker never alters an outcome,
  // so it adds no hop to the chain and never rethrows (a throw in a reaction costs about 1 µs).
  run<T>(fn: Operation<T>, call: Call, next: Next): Promise<T> {
    this.calls++;
    if (this.#state !== CLOSED) return this.#runGuarded(fn, call, next);
    const inner = next.stage.run(fn, call, next.rest);
    if (this.#slowMs === Number.POSITIVE_INFINITY) {
      observe(inner, closedOk, closedErr, this);
      return inner;
    }
    const started = this.#coarse.now();
    inner.then(
      () => this.#closedOutcome(false, this.#coarse.now() - started >= this.#slowMs),
      (e) => {
        this.failures++;
        if (this.#isFailure(e)) this.#closedOutcome(true, this.#coarse.now() - started >= this.#slowMs);
      },
    );
    return inner;
  }

  /** The closed, unmeasured path's outcomes (module functions, so that path allocates no closure per call). */
  closedOk(): void {
    this.#closedOutcome(false, false);
  }
  closedErr(e: unknown): void {
    this.failures++;
    if (this.#isFailure(e)) this.#closedOutcome(true, false);
  }

  /**
   * An outcome of a call admitted while closed. It only feeds the window if the circuit is still closed:
   * a straggler finishing after the circuit opened must not count as a half-open probe.
   */
  #closedOutcome(failure: boolean, slow: boolean): void {
    if (failure) this.failuresRecorded++;
    else this.successes++;
    if (this.#state !== CLOSED) return;
    if (this.#window.record(failure, slow, this.#timed ? this.#coarse.now() : 0)) this.#open();
  }

  /** An outcome of a half-open probe; probes admitted before the last state change are ignored. */
  #probeOutcome(epoch: number, failure: boolean): void {
    if (failure) this.failuresRecorded++;
    else this.successes++;
    if (epoch !== this.#epoch) return;
    if (failure) this.#open();
    else if (++this.#probeSuccesses >= this.#probes) this.#transition(CLOSED);
  }

  #runGuarded<T>(fn: Operation<T>, call: Call, next: Next): Promise<T> {
    this.#refresh();
    if (this.#state === OPEN || this.#probesStarted >= this.#probes) return this.#reject(call);
    this.#probesStarted++;
    const epoch = this.#epoch;
    const measured = this.#slowMs !== Number.POSITIVE_INFINITY;
    const started = measured ? this.#coarse.now() : 0;
    const inner = next.stage.run(fn, call, next.rest);
    inner.then(
      // A slow probe is as bad as a failed one: the dependency has not recovered.
      () => this.#probeOutcome(epoch, measured && this.#coarse.now() - started >= this.#slowMs),
      (e) => {
        this.failures++;
        if (this.#isFailure(e)) this.#probeOutcome(epoch, true);
        else if (epoch === this.#epoch) this.#probesStarted--; // not a verdict: free the probe slot
      },
    );
    return inner;
  }

  #reject<T>(call: Call): Promise<T> {
    this.rejections++;
    if (this.#fallback === undefined) {
      this.failures++;
      return this.#openRejection;
    }
    try {
      return Promise.resolve(this.#fallback(this.#openError, call) as T);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #refresh(): void {
    if (this.#state === OPEN && this.#coarse.now() >= this.#halfOpenAt) this.#transition(HALF_OPEN);
  }

  #open(): void {
    this.#transition(OPEN);
    this.#halfOpenAt = this.#clock.monotonic() + this.#openMs;
  }

  #transition(to: number): void {
    const from = this.#state;
    this.#state = to;
    this.#epoch++;
    this.#probesStarted = 0;
    this.#probeSuccesses = 0;
    if (to === CLOSED) this.#window.reset();
    if (from !== to && this.onStateChange.size > 0) {
      this.onStateChange.emit({ name: this.name, from: NAMES[from]!, to: NAMES[to]! });
    }
  }
}

const closedOk = (breaker: CircuitBreakerPolicy): void => breaker.closedOk();
const closedErr = (breaker: CircuitBreakerPolicy, e: unknown): void => breaker.closedErr(e);

export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreakerPolicy {
  return new CircuitBreakerPolicy(options);
}

import { type Clock, systemClock } from "../../time/index.ts";
import type { Call } from "../call.ts";
import { CoarseClock } from "../coarse-clock.ts";
import { isFailFastRejection, ResilienceConfigError } from "../errors.ts";
import { Listeners } from "../listeners.ts";
import { type Next, type Operation, StagePolicy } from "../policy.ts";
import { type Backoff, fullJitterBackoff } from "./backoff.ts";
import type { RetryBudget } from "./budget.ts";
import { retryAfterOf } from "./retry-after.ts";

export interface RetryOptions {
  /** Attempts in total, the first included. Default 3. */
  maxAttempts?: number;
  /** Default: full jitter from 100 ms, doubling, capped at 30 s. */
  backoff?: Backoff;
  /** Whether an error is worth another attempt. Default: anything but fail-fast rejections and aborts. */
  retryOn?: (error: unknown, attempt: number) => boolean;
  /** Wait at least what the server asked for (`Retry-After`). Default true. */
  respectRetryAfter?: boolean;
  /** Bound on the whole call, attempts and waits together, in milliseconds. Default: none. */
  deadlineMs?: number;
  /** Shared cap on retries as a fraction of calls. */
  budget?: RetryBudget;
  /** Source of jitter, in [0, 1). Default Math.random. */
  random?: () => number;
  /** Dependency name, used in events and metrics. */
  name?: string;
  clock?: Clock;
}

export interface RetryEvent {
  name: string;
  /** The attempt that just failed. */
  attempt: number;
  delayMs: number;
  error: unknown;
}

/** Why a retry policy stopped and passed the error on. */
export type GiveUpReason = "not-retryable" | "attempts" | "deadline" | "budget" | "aborted";

const GIVE_UP = -1;

/**
 * Retries failed attempts with backoff. The first attempt costs one rejection handler; everything else
 * (classification, Retry-After, budget, deadline) happens only after a failure.
 */
export class RetryPolicy extends StagePolicy {
  readonly name: string;
  readonly maxAttempts: number;
  readonly onRetry = new Listeners<RetryEvent>();
  readonly onGiveUp = new Listeners<RetryEvent & { reason: GiveUpReason }>();
  calls = 0;
  retries = 0;
  failures = 0;
  readonly #backoff: Backoff;
  readonly #retryOn: (error: unknown, attempt: number) => boolean;
  readonly #respectRetryAfter: boolean;
  readonly #deadlineMs: number;
  readonly #budget: RetryBudget | undefined;
  readonly #random: () => number;
  readonly #clock: Clock;
  readonly #coarse: CoarseClock;

  constructor(options: RetryOptions = {}) {
    super();
    this.maxAttempts = options.maxAttempts ?? 3;
    if (!(this.maxAttempts >= 1)) throw new ResilienceConfigError("retry: maxAttempts must be >= 1");
    this.name = options.name ?? "dependency";
    this.#backoff = options.backoff ?? fullJitterBackoff();
    this.#retryOn = options.retryOn ?? ((e) => !isFailFastRejection(e));
    this.#respectRetryAfter = options.respectRetryAfter ?? true;
    this.#deadlineMs = options.deadlineMs ?? Number.POSITIVE_INFINITY;
    this.#budget = options.budget;
    this.#random = options.random ?? Math.random;
    this.#clock = options.clock ?? systemClock;
    this.#coarse = CoarseClock.of(this.#clock);
  }

  run<T>(fn: Operation<T>, call: Call, next: Next): Promise<T> {
    this.calls++;
    this.#budget?.recordCall();
    const startedAt = this.#deadlineMs === Number.POSITIVE_INFINITY ? 0 : this.#coarse.now();
    call.attempt = 1;
    const first = next.stage.run(fn, call, next.rest);
    return first.then(undefined, (error) => {
      const delayMs = this.#delayAfter(error, 1, 0, call, startedAt);
      if (delayMs !== GIVE_UP) return this.#retry(delayMs, fn, call, next, startedAt);
      // Hand back the (already handled) rejected promise instead of rethrowing: a throw in a reaction
      // costs about 1 µs, adopting a settled promise two microtask turns.
      this.failures++;
      return first;
    });
  }

  async #retry<T>(delayMs: number, fn: Operation<T>, call: Call, next: Next, startedAt: number): Promise<T> {
    for (let attempt = 2; ; attempt++) {
      this.retries++;
      if (delayMs > 0) await this.#clock.sleep(delayMs, call.signal);
      call.attempt = attempt;
      let error: unknown;
      try {
        return await next.stage.run(fn, call, next.rest);
      } catch (e) {
        error = e;
      }
      const previousMs = delayMs;
      delayMs = this.#delayAfter(error, attempt, previousMs, call, startedAt);
      if (delayMs === GIVE_UP) {
        this.failures++;
        throw error;
      }
    }
  }

  #delayAfter(error: unknown, attempt: number, previousMs: number, call: Call, startedAt: number): number {
    let reason: GiveUpReason | undefined;
    let delayMs = 0;
    if (call.aborted) reason = "aborted";
    else if (attempt >= this.maxAttempts) reason = "attempts";
    else if (!this.#retryOn(error, attempt)) reason = "not-retryable";
    else {
      delayMs = Math.max(0, this.#backoff.delay(attempt, previousMs, this.#random));
      const asked = this.#respectRetryAfter ? retryAfterOf(error, this.#clock.now()) : undefined;
      if (asked !== undefined && asked > delayMs) delayMs = asked;
      if (this.#pastDeadline(delayMs, call, startedAt)) reason = "deadline";
      else if (this.#budget !== undefined && !this.#budget.tryRetry()) reason = "budget";
    }
    if (reason === undefined) {
      if (this.onRetry.size > 0) this.onRetry.emit({ name: this.name, attempt, delayMs, error });
      return delayMs;
    }
    if (this.onGiveUp.size > 0) this.onGiveUp.emit({ name: this.name, attempt, delayMs, error, reason });
    return GIVE_UP;
  }

  /** True if waiting `delayMs` would leave no time for another attempt. */
  #pastDeadline(delayMs: number, call: Call, startedAt: number): boolean {
    const bounded = call.bounded;
    if (this.#deadlineMs === Number.POSITIVE_INFINITY && !bounded) return false;
    const now = this.#clock.monotonic();
    const deadline = Math.min(
      startedAt + this.#deadlineMs,
      bounded ? call.deadline : Number.POSITIVE_INFINITY,
    );
    return now + delayMs >= deadline;
  }
}

export function retry(options: RetryOptions = {}): RetryPolicy {
  return new RetryPolicy(options);
}

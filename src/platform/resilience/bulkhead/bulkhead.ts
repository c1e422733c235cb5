import { type Clock, systemClock } from "../../time/index.ts";
import type { Call } from "../call.ts";
import { CoarseClock } from "../coarse-clock.ts";
import { BulkheadRejectedError, ResilienceConfigError } from "../errors.ts";
import { observe } from "../observe.ts";
import { type Next, type Operation, preRejected, StagePolicy } from "../policy.ts";
import { TimerWheel, type WheelEntry } from "../timer-wheel.ts";
import { AimdLimit, type AimdOptions } from "./aimd.ts";

export interface BulkheadOptions {
  /** Calls allowed to run at once (the ceiling when adaptive). */
  maxConcurrent: number;
  /** Calls allowed to wait for a slot; beyond it calls are rejected at once. Default 0. */
  maxQueue?: number;
  /** How long a call may wait in the queue. Milliseconds; default: as long as it takes. */
  queueTimeoutMs?: number;
  /** Turns the fixed limit into an adaptive (AIMD) one bounded by `maxConcurrent`. */
  adaptive?: AimdOptions;
  /** Dependency name, used in errors and metrics. */
  name?: string;
  clock?: Clock;
}

/** A call waiting for a slot; also its queue-timeout entry on the shared wheel. */
class Waiter implements WheelEntry {
  readonly ms: number;
  /** Wheel flag: set once the waiter no longer needs its queue timeout. */
  done = false;
  expiryTick = -1;
  inQueue = true;
  readonly bulkhead: BulkheadPolicy;
  readonly start: () => void;
  readonly reject: (e: unknown) => void;
  onAbort: (() => void) | undefined = undefined;
  signal: AbortSignal | undefined = undefined;

  constructor(bulkhead: BulkheadPolicy, ms: number, start: () => void, reject: (e: unknown) => void) {
    this.bulkhead = bulkhead;
    this.ms = ms;
    this.start = start;
    this.reject = reject;
  }

  /** Leaves the queue for good; true if it was still waiting. */
  dequeue(): boolean {
    if (!this.inQueue) return false;
    this.inQueue = false;
    this.done = true;
    if (this.onAbort !== undefined) this.signal!.removeEventListener("abort", this.onAbort);
    return true;
  }

  expire(): void {
    if (!this.bulkhead.leave(this)) return;
    this.bulkhead.queueTimeouts++;
    this.bulkhead.failures++;
    this.reject(this.bulkhead.queueTimeoutError);
  }
}

/**
 * Isolates one dependency: at most `maxConcurrent` calls run, at most `maxQueue` wait. A slow dependency
 * therefore holds only its own slots. The fast path is a counter and a prebound release handler.
 */
export class BulkheadPolicy extends StagePolicy {
  readonly name: string;
  readonly maxQueue: number;
  readonly queueTimeoutMs: number;
  readonly adaptive: AimdLimit | undefined;
  readonly fullError: BulkheadRejectedError;
  readonly queueTimeoutError: BulkheadRejectedError;
  readonly #fullRejection: Promise<never>;
  calls = 0;
  rejections = 0;
  queueTimeouts = 0;
  /** Errors this policy passed to its caller, its own rejections included. */
  failures = 0;
  #limit: number;
  #active = 0;
  #queue: Waiter[] = [];
  #head = 0;
  #waiting = 0;
  readonly #wheel: TimerWheel;
  readonly #coarse: CoarseClock;

  constructor(options: BulkheadOptions) {
    super();
    if (!(options.maxConcurrent >= 1))
      throw new ResilienceConfigError("bulkhead: maxConcurrent must be >= 1");
    this.name = options.name ?? "dependency";
    this.#limit = options.maxConcurrent;
    this.maxQueue = options.maxQueue ?? 0;
    this.queueTimeoutMs = options.queueTimeoutMs ?? Number.POSITIVE_INFINITY;
    const clock = options.clock ?? systemClock;
    this.#wheel = TimerWheel.of(clock);
    this.#coarse = CoarseClock.of(clock);
    this.adaptive = options.adaptive ? new AimdLimit(options.adaptive, options.maxConcurrent) : undefined;
    if (this.adaptive) this.#limit = this.adaptive.limit;
    this.fullError = new BulkheadRejectedError(this.name, "BWK_ERR_RESILIENCE_BULKHEAD_FULL");
    this.queueTimeoutError = new BulkheadRejectedError(this.name, "BWK_ERR_RESILIENCE_QUEUE_TIMEOUT");
    this.#fullRejection = preRejected(this.fullError);
  }

  /** Calls running now. */
  get active(): number {
    return this.#active;
  }

  /** Calls waiting for a slot now. */
  get queued(): number {
    return this.#waiting;
  }

  /** The concurrency limit now (moves when adaptive). */
  get limit(): number {
    return this.#limit;
  }

  run<T>(fn: Operation<T>, call: Call, next: Next): Promise<T> {
    this.calls++;
    if (this.#active < this.#limit && this.#waiting === 0) return this.#start(fn, call, next);
    if (this.#waiting >= this.maxQueue) {
      this.rejections++;
      this.failures++;
      return this.#fullRejection;
    }
    return this.#enqueue(fn, call, next);
  }

  // The slot is released by handlers hung on the inner promise, which is returned unchanged: no extra
  // hop, no rethrow, and the release runs before the caller's own continuation.
  #start<T>(fn: Operation<T>, call: Call, next: Next): Promise<T> {
    this.#active++;
    const inner = next.stage.run(fn, call, next.rest);
    if (this.adaptive === undefined) {
      observe(inner, releaseOk, releaseErr, this);
      return inner;
    }
    const aimd = this.adaptive;
    const inflight = this.#active;
    const started = aimd.measuresLatency ? this.#coarse.now() : 0;
    const latency = () => (aimd.measuresLatency ? this.#coarse.now() - started : 0);
    inner.then(
      () => {
        aimd.update(inflight, latency(), undefined, false);
        this.#release();
      },
      (e) => {
        this.failures++;
        aimd.update(inflight, latency(), e, true);
        this.#release();
      },
    );
    return inner;
  }

  /** Frees the slot of a call that finished; `failed` counts it. */
  release(failed: boolean): void {
    if (failed) this.failures++;
    this.#release();
  }

  #release(): void {
    this.#active--;
    if (this.adaptive !== undefined) this.#limit = this.adaptive.limit;
    while (this.#waiting > 0 && this.#active < this.#limit) {
      const w = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as Waiter;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      if (!w.dequeue()) continue;
      this.#waiting--;
      w.start();
    }
  }

  /** Removes a waiter that gave up (queue timeout or abort); it stays in the array, marked done. */
  leave(w: Waiter): boolean {
    if (!w.dequeue()) return false;
    this.#waiting--;
    return true;
  }

  #enqueue<T>(fn: Operation<T>, call: Call, next: Next): Promise<T> {
    if (call.aborted) return preRejected(call.reason);
    return new Promise<T>((resolve, reject) => {
      const w = new Waiter(
        this,
        this.queueTimeoutMs,
        () => this.#start(fn, call, next).then(resolve, reject),
        reject,
      );
      this.#queue.push(w);
      this.#waiting++;
      if (this.queueTimeoutMs !== Number.POSITIVE_INFINITY) this.#wheel.add(w);
      // Only a queued call pays for a listener: it must leave the queue if its caller gives up.
      const signal = call.signal;
      w.signal = signal;
      w.onAbort = () => {
        if (!this.leave(w)) return;
        this.failures++;
        reject(call.reason);
      };
      signal.addEventListener("abort", w.onAbort, { once: true });
    });
  }
}

const releaseOk = (bulkhead: BulkheadPolicy): void => bulkhead.release(false);
const releaseErr = (bulkhead: BulkheadPolicy): void => bulkhead.release(true);

export function bulkhead(
  maxConcurrent: number,
  options: Omit<BulkheadOptions, "maxConcurrent"> = {},
): BulkheadPolicy {
  return new BulkheadPolicy({ ...options, maxConcurrent });
}

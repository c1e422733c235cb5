import type { WheelEntry } from "./timer-wheel.ts";

/** What the protected function receives: everything it needs to cooperate with the policies around it. */
export interface CallContext {
  /** Aborted when a policy gives up on this attempt (timeout, lost hedge) or the caller aborts. Created on first read. */
  readonly signal: AbortSignal;
  /** Monotonic milliseconds (the policies' `Clock.monotonic()` scale) by which the call must finish; Infinity if none. */
  readonly deadline: number;
  /** 1 for the first attempt, 2 for the first retry or hedge, and so on. */
  readonly attempt: number;
}

/**
 * What a caller may hand to `execute`. A `CallContext` received from an outer policy fits too: the inner
 * call then inherits what is left of the outer deadline and is aborted with the outer call.
 */
export interface ExecuteOptions {
  readonly signal?: AbortSignal;
  readonly deadline?: number;
}

/**
 * What bounds a timed attempt in time (the timeout policy): it knows the attempt's deadline on its wheel and
 * what to do when the attempt expires.
 */
export interface AttemptTimer {
  deadlineOf(attempt: Call): number;
  expired(attempt: Call): void;
}

/** The rarely needed part of a call: the caller's own signal and deadline, and this call's abort state. */
class CallExtras {
  external: AbortSignal | undefined = undefined;
  externalDeadline = Number.POSITIVE_INFINITY;
  controller: AbortController | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  aborted = false;
  reason: unknown = undefined;
  /** Children that made a signal of their own: aborted with this call (see Call.signal). */
  listening: Call[] | undefined = undefined;
  listeningToParent = false;
  /** An aggressive timeout's way to settle the attempt at its deadline. */
  onExpiry: ((reason: unknown) => void) | undefined = undefined;
}

/**
 * The per-call state threaded through a policy stack, and also a timed attempt's entry on the timer wheel.
 * One flat class on purpose: a subclass for timed attempts cost twice the allocation time (a derived
 * constructor), and a second class would make every `Call` read in the stack polymorphic. The caller's
 * signal and deadline, the AbortController (created only if somebody reads `signal`) and the abort state
 * live in a side object made only when needed.
 */
export class Call implements CallContext, WheelEntry {
  attempt: number;
  readonly parent: Call | undefined;
  /** Set on a timed attempt: the policy bounding it. */
  readonly timer: AttemptTimer | undefined;
  /** Wheel entry: the attempt's lifetime in ms, whether it settled, and the tick it expires at. */
  readonly ms: number;
  done: boolean;
  expiryTick: number;
  #extras: CallExtras | undefined;

  constructor(parent: Call | undefined, timer?: AttemptTimer, ms = Number.POSITIVE_INFINITY) {
    this.attempt = parent === undefined ? 1 : parent.attempt;
    this.parent = parent;
    this.timer = timer;
    this.ms = ms;
    this.done = false;
    this.expiryTick = -1;
    this.#extras = undefined;
  }

  #more(): CallExtras {
    this.#extras ??= new CallExtras();
    return this.#extras;
  }

  /** Wraps what the caller passed: a child of a Call, or a root carrying the caller's signal and deadline. */
  static from(options: ExecuteOptions | undefined): Call {
    if (options === undefined) return new Call(undefined);
    if (options instanceof Call) return new Call(options);
    const call = new Call(undefined);
    if (options.signal !== undefined || options.deadline !== undefined) {
      const extras = call.#more();
      extras.external = options.signal;
      extras.externalDeadline = options.deadline ?? Number.POSITIVE_INFINITY;
    }
    return call;
  }

  get deadline(): number {
    let d = this.#extras?.externalDeadline ?? Number.POSITIVE_INFINITY;
    if (this.timer !== undefined) d = Math.min(d, this.timer.deadlineOf(this));
    if (this.parent !== undefined) d = Math.min(d, this.parent.deadline);
    return d;
  }

  /** Whether anything bounds this call in time, without computing the bound. */
  get bounded(): boolean {
    return (
      this.timer !== undefined ||
      (this.#extras !== undefined && this.#extras.externalDeadline !== Number.POSITIVE_INFINITY) ||
      this.parent?.bounded === true
    );
  }

  get signal(): AbortSignal {
    const extras = this.#more();
    if (extras.signal === undefined) {
      const controller = new AbortController();
      extras.controller = controller;
      if (this.#external() === undefined) {
        // No caller's signal anywhere above: every abort comes through abort(), which tells the children
        // listening. An AbortSignal.any per layer instead cost a composite signal per policy, and each
        // listener added to one (node's http client adds one) follows all its sources: 15 µs a gateway call.
        if (this.aborted) controller.abort(this.reason);
        else this.#listenToParent();
        extras.signal = controller.signal;
      } else {
        if (extras.aborted) controller.abort(extras.reason);
        const outer = this.parent !== undefined ? this.parent.signal : extras.external;
        extras.signal = outer === undefined ? controller.signal : AbortSignal.any([outer, controller.signal]);
      }
    }
    return extras.signal;
  }

  /** Has every call above this one tell its child of an abort, up to the root (once per call). */
  #listenToParent(): void {
    const parent = this.parent;
    const extras = this.#more();
    if (parent === undefined || extras.listeningToParent) return;
    extras.listeningToParent = true;
    const above = parent.#more();
    above.listening ??= [];
    above.listening.push(this);
    parent.#listenToParent();
  }

  /** The caller's signal this call descends from, if any. */
  #external(): AbortSignal | undefined {
    return this.parent !== undefined ? this.parent.#external() : this.#extras?.external;
  }

  /** True once this call or any call it descends from was aborted; reads no signal, so it allocates nothing. */
  get aborted(): boolean {
    const extras = this.#extras;
    if (extras?.aborted) return true;
    if (this.parent !== undefined) return this.parent.aborted;
    return extras?.external?.aborted === true;
  }

  get reason(): unknown {
    const extras = this.#extras;
    if (extras?.aborted) return extras.reason;
    if (this.parent !== undefined) return this.parent.reason;
    return extras?.external?.reason;
  }

  abort(reason: unknown): void {
    const extras = this.#more();
    if (extras.aborted) return;
    extras.aborted = true;
    extras.reason = reason;
    extras.controller?.abort(reason);
    const listening = extras.listening;
    extras.listening = undefined;
    if (listening !== undefined) for (const child of listening) child.abort(reason);
  }

  /** Has an aggressive timeout settle this attempt with the expiry's reason, even if the callee ignores it. */
  settleOnExpiry(reject: (reason: unknown) => void): void {
    this.#more().onExpiry = reject;
  }

  /** Whether an aggressive timeout settles this attempt itself at expiry. */
  get settlesOnExpiry(): boolean {
    return this.#extras?.onExpiry !== undefined;
  }

  /** Called by the wheel at the deadline of a timed attempt still running. */
  expire(): void {
    this.timer?.expired(this);
  }

  /** Settles an attempt whose expiry settles it (aggressive timeout). */
  rejectOnExpiry(reason: unknown): void {
    this.#extras?.onExpiry?.(reason);
  }
}

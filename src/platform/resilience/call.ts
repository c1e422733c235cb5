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

/** A source of a coarse deadline for a call, attached by the timeout policy. */
export interface DeadlineSource {
  expiresAt(): number;
}

/** The rarely needed part of a call: the caller's own signal and deadline, and this call's abort state. */
class CallExtras {
  external: AbortSignal | undefined = undefined;
  externalDeadline = Number.POSITIVE_INFINITY;
  controller: AbortController | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  aborted = false;
  reason: unknown = undefined;
}

/**
 * The per-call state threaded through a policy stack. Kept small and cheap on purpose: a call on the success
 * path is four fields; the caller's signal and deadline, the AbortController (created only if somebody reads
 * `signal`) and the abort state live in a side object made only when needed.
 */
export class Call implements CallContext {
  attempt: number;
  timer: DeadlineSource | undefined = undefined;
  readonly parent: Call | undefined;
  #extras: CallExtras | undefined = undefined;

  constructor(parent?: Call, external?: AbortSignal, deadline = Number.POSITIVE_INFINITY) {
    this.parent = parent;
    this.attempt = parent === undefined ? 1 : parent.attempt;
    if (external !== undefined || deadline !== Number.POSITIVE_INFINITY) {
      const extras = this.#more();
      extras.external = external;
      extras.externalDeadline = deadline;
    }
  }

  #more(): CallExtras {
    this.#extras ??= new CallExtras();
    return this.#extras;
  }

  /** Wraps what the caller passed: a child of a Call, or a root carrying the caller's signal and deadline. */
  static from(options: ExecuteOptions | undefined): Call {
    if (options === undefined) return new Call();
    if (options instanceof Call) return new Call(options);
    return new Call(undefined, options.signal, options.deadline ?? Number.POSITIVE_INFINITY);
  }

  get deadline(): number {
    let d = this.#extras?.externalDeadline ?? Number.POSITIVE_INFINITY;
    if (this.timer !== undefined) d = Math.min(d, this.timer.expiresAt());
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
      if (extras.aborted) controller.abort(extras.reason);
      const outer = this.parent !== undefined ? this.parent.signal : extras.external;
      extras.signal = outer === undefined ? controller.signal : AbortSignal.any([outer, controller.signal]);
    }
    return extras.signal;
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
  }
}

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

/**
 * The per-call state threaded through a policy stack. Kept cheap on purpose: the AbortController is
 * created only if somebody reads `signal`, and a timeout computes `deadline` only if somebody reads it.
 */
export class Call implements CallContext {
  attempt: number;
  timer: DeadlineSource | undefined = undefined;
  #parent: Call | undefined;
  #external: AbortSignal | undefined;
  #externalDeadline: number;
  #controller: AbortController | undefined = undefined;
  #signal: AbortSignal | undefined = undefined;
  #aborted = false;
  #reason: unknown = undefined;

  constructor(parent?: Call, external?: AbortSignal, deadline = Number.POSITIVE_INFINITY) {
    this.#parent = parent;
    this.#external = external;
    this.#externalDeadline = deadline;
    this.attempt = parent === undefined ? 1 : parent.attempt;
  }

  /** Wraps what the caller passed: a child of a Call, or a root carrying the caller's signal and deadline. */
  static from(options: ExecuteOptions | undefined): Call {
    if (options === undefined) return new Call();
    if (options instanceof Call) return new Call(options);
    return new Call(undefined, options.signal, options.deadline ?? Number.POSITIVE_INFINITY);
  }

  get deadline(): number {
    let d = this.#externalDeadline;
    if (this.timer !== undefined) d = Math.min(d, this.timer.expiresAt());
    if (this.#parent !== undefined) d = Math.min(d, this.#parent.deadline);
    return d;
  }

  /** Whether anything bounds this call in time, without computing the bound. */
  get bounded(): boolean {
    return (
      this.timer !== undefined ||
      this.#externalDeadline !== Number.POSITIVE_INFINITY ||
      this.#parent?.bounded === true
    );
  }

  get signal(): AbortSignal {
    if (this.#signal === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
      const outer = this.#parent !== undefined ? this.#parent.signal : this.#external;
      this.#signal =
        outer === undefined ? this.#controller.signal : AbortSignal.any([outer, this.#controller.signal]);
    }
    return this.#signal;
  }

  /** True once this call or any call it descends from was aborted; reads no signal, so it allocates nothing. */
  get aborted(): boolean {
    if (this.#aborted) return true;
    if (this.#parent !== undefined) return this.#parent.aborted;
    return this.#external?.aborted === true;
  }

  get reason(): unknown {
    if (this.#aborted) return this.#reason;
    if (this.#parent !== undefined) return this.#parent.reason;
    return this.#external?.reason;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

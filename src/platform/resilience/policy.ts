import { Call, type CallContext, type ExecuteOptions } from "./call.ts";

/** The protected operation. It may ignore its context, but it should honour `signal`. */
export type Operation<T> = (ctx: CallContext) => Promise<T> | T;

/** The one shape every policy has. */
export interface Policy {
  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T>;
}

/**
 * How a built-in policy runs inside a composed stack: it receives the next stage instead of a closure,
 * so composing allocates nothing per call. `run` never throws synchronously; it returns a rejection.
 */
export interface Stage {
  run<T>(fn: Operation<T>, call: Call, next: Next): Promise<T>;
}

/**
 * The rest of a composed stack, as seen from one stage: a linked list of stages. Each stage calls the next
 * one itself, `next.stage.run(fn, call, next.rest)`, rather than through one shared dispatching method:
 * that one call site would see every kind of stage and go megamorphic, while a stage's own call site sees
 * only the stages that follow it, so it stays monomorphic.
 */
export class Next {
  readonly stage: Stage;
  /** The stages after `stage`; the terminal entry points to itself. */
  readonly rest: Next;

  constructor(stage: Stage, rest?: Next) {
    this.stage = stage;
    this.rest = rest ?? this;
  }
}

/** The end of every stack: calls the protected function. */
class CallTheFunction implements Stage {
  run<T>(fn: Operation<T>, call: Call): Promise<T> {
    try {
      return Promise.resolve(fn(call));
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

export const TERMINAL: Next = new Next(new CallTheFunction());

/** Base of the built-in policies: `execute` is `run` at the end of the stack. */
export abstract class StagePolicy implements Policy, Stage {
  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T> {
    return this.run(fn, Call.from(options), TERMINAL);
  }

  abstract run<T>(fn: Operation<T>, call: Call, next: Next): Promise<T>;
}

export function isStage(p: unknown): p is Stage {
  return typeof (p as Stage | undefined)?.run === "function";
}

/** Lets a policy that only has `execute` (user-written, chaos faults) take part in a composed stack. */
export function stageOf(policy: Policy): Stage {
  if (isStage(policy)) return policy;
  return {
    run: (fn, call, next) => policy.execute(() => next.stage.run(fn, call, next.rest), call),
  };
}

/** A policy that does nothing; the identity of `wrap`. */
export class NoopPolicy extends StagePolicy {
  run<T>(fn: Operation<T>, call: Call, next: Next): Promise<T> {
    return next.stage.run(fn, call, next.rest);
  }
}

export const noop: Policy = new NoopPolicy();

const ignore = () => {};

/**
 * A rejected promise made once and marked handled, for fail-fast paths. Returning it costs nothing:
 * `Promise.reject()` per call would cost microseconds in Node's unhandled-rejection bookkeeping, since
 * the caller can only attach its handler after the promise is already rejected.
 */
export function preRejected(error: unknown): Promise<never> {
  const p = Promise.reject(error);
  p.catch(ignore);
  return p;
}

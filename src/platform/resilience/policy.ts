import { Call, type CallContext, type ExecuteOptions } from "./call.ts";

/** The protected operation. It may ignore its context, but it should honour `signal`. */
export type Operation<T> = (ctx: CallContext) => Promise<T> | T;

/** The one shape every policy has. */
export interface Policy {
  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T>;
}

/** The rest of a composed stack, as seen from one stage. */
export interface Next {
  run<T>(fn: Operation<T>, call: Call): Promise<T>;
}

/**
 * How a built-in policy runs inside a composed stack: it receives the next stage instead of a closure,
 * so composing allocates nothing per call. `run` never throws synchronously; it returns a rejection.
 */
export interface Stage {
  run<T>(fn: Operation<T>, call: Call, next: Next): Promise<T>;
}

export const TERMINAL: Next = {
  run<T>(fn: Operation<T>, call: Call): Promise<T> {
    try {
      return Promise.resolve(fn(call));
    } catch (err) {
      return Promise.reject(err);
    }
  },
};

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
    run: (fn, call, next) => policy.execute(() => next.run(fn, call), call),
  };
}

/** A policy that does nothing; the identity of `wrap`. */
export class NoopPolicy extends StagePolicy {
  run<T>(fn: Operation<T>, call: Call, next: Next): Promise<T> {
    return next.run(fn, call);
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

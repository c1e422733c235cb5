import type { Call, CallContext } from "./call.ts";
import { type Next, type Operation, StagePolicy } from "./policy.ts";

export interface FallbackOptions {
  /** Which errors the fallback answers. Default: all. */
  when?: (error: unknown) => boolean;
}

/** Answers with `handler(error, ctx)` when the inner stack fails; the handler must return the call's type. */
export class FallbackPolicy extends StagePolicy {
  calls = 0;
  fallbacks = 0;
  readonly #handler: (error: unknown, ctx: CallContext) => unknown;
  readonly #when: (error: unknown) => boolean;

  constructor(handler: (error: unknown, ctx: CallContext) => unknown, options: FallbackOptions = {}) {
    super();
    this.#handler = handler;
    this.#when = options.when ?? (() => true);
  }

  run<T>(fn: Operation<T>, call: Call, next: Next): Promise<T> {
    this.calls++;
    const inner = next.stage.run(fn, call, next.rest);
    return inner.then(undefined, (e) => {
      if (!this.#when(e)) return inner;
      this.fallbacks++;
      return this.#handler(e, call) as T;
    });
  }
}

export function fallback(
  handler: (error: unknown, ctx: CallContext) => unknown,
  options?: FallbackOptions,
): FallbackPolicy {
  return new FallbackPolicy(handler, options);
}

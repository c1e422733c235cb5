import type { Call } from "./call.ts";
import { Next, type Operation, type Policy, type Stage, StagePolicy, stageOf, TERMINAL } from "./policy.ts";

function chain(stages: readonly Stage[], last: Next): Next {
  let next = last;
  for (let i = stages.length - 1; i >= 0; i--) next = new Next(stages[i]!, next);
  return next;
}

/** Policies composed outermost first; the chain is linked once, here, not per call. */
export class ComposedPolicy extends StagePolicy {
  readonly stages: readonly Stage[];
  readonly #head: Next;

  constructor(stages: readonly Stage[]) {
    super();
    this.stages = stages;
    this.#head = chain(stages, TERMINAL);
  }

  run<T>(fn: Operation<T>, call: Call, next: Next): Promise<T> {
    const head = next === TERMINAL ? this.#head : chain(this.stages, next);
    return head.stage.run(fn, call, head.rest);
  }
}

/**
 * Composes policies as a fold: `wrap(retry, breaker, timeout, bulkhead)` runs retry outermost and the
 * bulkhead right around the call. Nested wraps are flattened, so depth costs nothing extra.
 */
export function wrap(...policies: Policy[]): ComposedPolicy {
  const stages: Stage[] = [];
  for (const p of policies) {
    if (p instanceof ComposedPolicy) stages.push(...p.stages);
    else stages.push(stageOf(p));
  }
  return new ComposedPolicy(stages);
}

import type { Clock } from "../../time/index.ts";

export interface FunctionContext {
  signal: AbortSignal;
  clock: Clock;
}

/** What replaces Chaos Toolkit's Python functions: a named async function taking the activity's arguments. */
export type ChaosFunction = (args: Record<string, unknown>, context: FunctionContext) => unknown;

export type FunctionRegistry = Readonly<Record<string, ChaosFunction>>;

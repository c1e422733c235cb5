import type { Tolerance } from "./tolerance.ts";

export interface HttpProvider {
  type: "http";
  url: string;
  method?: string;
  headers?: Record<string, string>;
  /** JSON body, or query parameters for GET. */
  arguments?: Record<string, unknown>;
  /** Seconds, as in Chaos Toolkit. Defaults to 30. */
  timeout?: number;
  /** The activity fails unless the status is this one (or one of these). */
  expected_status?: number | number[];
}

export interface ProcessProvider {
  type: "process";
  path: string;
  /** A list of arguments, one string (split on spaces), or an object of `--key value` pairs. */
  arguments?: string[] | string | Record<string, unknown>;
  /** Seconds. Defaults to 30. */
  timeout?: number;
}

/**
 * Chaos Toolkit's `python` provider, with Python modules replaced by a registry of named TypeScript functions:
 * `{type: "bulwark", func: "bulwark.proxy.add_toxic"}` or `{type: "python", module: "bulwark.proxy", func: "add_toxic"}`.
 */
export interface FunctionProvider {
  type: "bulwark" | "python";
  module?: string;
  func: string;
  arguments?: Record<string, unknown>;
}

export type Provider = HttpProvider | ProcessProvider | FunctionProvider;

export interface Activity {
  type: "action" | "probe";
  name: string;
  provider: Provider;
  /** Only on probes: what the output must satisfy in a steady-state hypothesis. */
  tolerance?: Tolerance;
  /** Seconds to wait before and after the activity. */
  pauses?: { before?: number; after?: number };
  /** Starts the activity and moves on; the method waits for it at its end. */
  background?: boolean;
}

export type ConfigurationValue = unknown | { type: "env"; key: string; default?: unknown };

export interface Experiment {
  title: string;
  description: string;
  tags?: string[];
  configuration?: Record<string, ConfigurationValue>;
  "steady-state-hypothesis"?: { title: string; probes?: Activity[] };
  method: Activity[];
  rollbacks?: Activity[];
  /** Bulwark extension: stop the method at the first failed action (the run is then "aborted"). */
  runtime?: { fail_fast?: boolean };
}

export type RunStatus = "succeeded" | "failed";

/** One activity's record in the journal. */
export interface ActivityRun {
  activity: Activity;
  status: RunStatus;
  output: unknown;
  exception?: string;
  start: string;
  end: string;
  /** Seconds. */
  duration: number;
  tolerance_met?: boolean;
}

export interface SteadyState {
  steady_state_met: boolean;
  probes: ActivityRun[];
}

export type ExperimentStatus = "completed" | "failed" | "aborted" | "interrupted";

/** Chaos Toolkit's journal shape. */
export interface Journal {
  "chaoslib-version": string;
  platform: string;
  node: string;
  experiment: Experiment;
  start: string;
  end: string;
  /** Seconds. */
  duration: number;
  status: ExperimentStatus;
  deviated: boolean;
  steady_states: { before: SteadyState | null; after: SteadyState | null; during: SteadyState[] };
  run: ActivityRun[];
  rollbacks: ActivityRun[];
}

import { hostname, release } from "node:os";
import { type Clock, systemClock } from "../../time/index.ts";
import type { FunctionRegistry } from "./functions.ts";
import { runHttpProvider } from "./providers/http.ts";
import { runProcessProvider } from "./providers/process.ts";
import { resolveConfiguration, substitute } from "./substitute.ts";
import { type Tolerance, withinTolerance } from "./tolerance.ts";
import type { Activity, ActivityRun, Experiment, Journal, SteadyState } from "./types.ts";

export type RunPhase = "hypothesis-before" | "method" | "hypothesis-after" | "rollbacks";

export interface RunExperimentOptions {
  /** The `bulwark`/`python` provider functions by name. */
  functions?: FunctionRegistry;
  clock?: Clock;
  /** Ctrl-C: stops the hypothesis or method; rollbacks still run, and the run is "interrupted". */
  signal?: AbortSignal;
  /** For `{type: env}` configuration. Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Called after each activity, e.g. to print progress. */
  onActivity?(phase: RunPhase, run: ActivityRun): void;
}

/**
 * Runs a Chaos Toolkit experiment: hypothesis (bail out if unmet), method, hypothesis again (deviated if
 * unmet), then rollbacks, which run always: after a failed hypothesis, a failed or aborted method, and an
 * interruption. Returns the journal.
 */
export async function runExperiment(
  experiment: Experiment,
  options: RunExperimentOptions = {},
): Promise<Journal> {
  const clock = options.clock ?? systemClock;
  const interrupt = options.signal ?? new AbortController().signal;
  const configuration = resolveConfiguration(experiment.configuration, options.env ?? process.env);
  const started = clock.monotonic();
  const journal: Journal = {
    "chaoslib-version": "bulwark-chaos/0.1",
    platform: `${process.platform} ${release()}`,
    node: hostname(),
    experiment,
    start: new Date(clock.now()).toISOString(),
    end: "",
    duration: 0,
    status: "completed",
    deviated: false,
    steady_states: { before: null, after: null, during: [] },
    run: [],
    rollbacks: [],
  };

  const run = async (activity: Activity, signal: AbortSignal, phase: RunPhase) => {
    const resolved = substitute(activity, configuration);
    const record = await runActivity(resolved, {
      signal,
      clock,
      functions: options.functions ?? {},
    });
    if (phase === "hypothesis-before" || phase === "hypothesis-after") {
      record.tolerance_met =
        record.status === "succeeded" && withinTolerance(resolved.tolerance as Tolerance, record.output);
    }
    options.onActivity?.(phase, record);
    return record;
  };

  const hypothesis = async (phase: RunPhase): Promise<SteadyState | null> => {
    const probes = experiment["steady-state-hypothesis"]?.probes ?? [];
    if (probes.length === 0) return null;
    const state: SteadyState = { steady_state_met: true, probes: [] };
    for (const probe of probes) {
      const record = await run(probe, interrupt, phase);
      state.probes.push(record);
      if (!record.tolerance_met) {
        state.steady_state_met = false;
        break;
      }
    }
    return state;
  };

  try {
    journal.steady_states.before = await hypothesis("hypothesis-before");
    if (journal.steady_states.before?.steady_state_met === false) {
      journal.status = "failed";
    } else {
      const background: Promise<unknown>[] = [];
      for (const activity of experiment.method) {
        if (interrupt.aborted) break;
        const pending = run(activity, interrupt, "method").then((record) => {
          journal.run.push(record);
          return record;
        });
        if (activity.background) {
          background.push(pending);
          continue;
        }
        const record = await pending;
        if (record.status === "failed" && activity.type === "action" && experiment.runtime?.fail_fast) {
          journal.status = "aborted";
          break;
        }
      }
      await Promise.allSettled(background);
      if (interrupt.aborted) throw interrupt.reason;
      if (journal.status === "completed") {
        journal.steady_states.after = await hypothesis("hypothesis-after");
        if (journal.steady_states.after?.steady_state_met === false) {
          journal.deviated = true;
          journal.status = "failed";
        }
      }
    }
  } catch {
    journal.status = interrupt.aborted ? "interrupted" : "aborted";
  } finally {
    // Rollbacks get their own signal: the interruption that stopped the method must not stop the cleanup.
    const cleanup = new AbortController().signal;
    for (const activity of experiment.rollbacks ?? []) {
      journal.rollbacks.push(
        await run(activity, cleanup, "rollbacks").catch((e) => failedRun(activity, e, clock)),
      );
    }
    journal.end = new Date(clock.now()).toISOString();
    journal.duration = (clock.monotonic() - started) / 1000;
  }
  return journal;
}

interface ActivityContext {
  signal: AbortSignal;
  clock: Clock;
  functions: FunctionRegistry;
}

/** Runs one activity with its pauses; a provider error becomes a failed run, an interruption is rethrown. */
async function runActivity(activity: Activity, context: ActivityContext): Promise<ActivityRun> {
  const { clock, signal } = context;
  if (activity.pauses?.before) await clock.sleep(activity.pauses.before * 1000, signal);
  const startWall = clock.now();
  const t0 = clock.monotonic();
  let record: ActivityRun;
  try {
    const output = await callProvider(activity, context);
    record = { activity, status: "succeeded", output, ...timing(startWall, t0, clock) };
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    record = {
      activity,
      status: "failed",
      output: null,
      exception: describe(error),
      ...timing(startWall, t0, clock),
    };
  }
  if (activity.pauses?.after) await clock.sleep(activity.pauses.after * 1000, signal);
  return record;
}

function callProvider(activity: Activity, { signal, clock, functions }: ActivityContext): Promise<unknown> {
  const provider = activity.provider;
  switch (provider.type) {
    case "http":
      return runHttpProvider(provider, signal);
    case "process":
      return runProcessProvider(provider, signal);
    default: {
      const name = provider.module ? `${provider.module}.${provider.func}` : provider.func;
      const fn = functions[name];
      if (!fn) return Promise.reject(new Error(`unknown function ${name}`));
      return Promise.resolve().then(() => fn(provider.arguments ?? {}, { signal, clock }));
    }
  }
}

function timing(
  startWall: number,
  t0: number,
  clock: Clock,
): { start: string; end: string; duration: number } {
  return {
    start: new Date(startWall).toISOString(),
    end: new Date(clock.now()).toISOString(),
    duration: (clock.monotonic() - t0) / 1000,
  };
}

function failedRun(activity: Activity, error: unknown, clock: Clock): ActivityRun {
  const now = clock.now();
  return {
    activity,
    status: "failed",
    output: null,
    exception: describe(error),
    ...timing(now, clock.monotonic(), clock),
  };
}

/** The message with its causes: fetch's "fetch failed" alone says nothing about ECONNREFUSED. */
function describe(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e !== undefined && parts.length < 4; e = (e as { cause?: unknown }).cause) {
    parts.push(e instanceof Error ? e.message : String(e));
    if (!(e instanceof Error)) break;
  }
  return parts.join(": ");
}

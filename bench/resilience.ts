// npm run bench -- resilience [--rounds 21] [--calls 1000000] [--only success|open-rejection|failures]
// The same four-policy stack (retry, circuit breaker, timeout, bulkhead) around `async () => 42` in
// Bulwark, cockatiel and opossum, measured in one process. Every case runs `calls` calls in total, split
// into `rounds` short samples taken round-robin across the cases, so that machine noise (a 2-core box
// shared with other work) hits every library alike; the reported value is the median sample.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import {
  ConsecutiveBreaker,
  ConstantBackoff,
  circuitBreaker as cBreaker,
  bulkhead as cBulkhead,
  retry as cRetry,
  timeout as cTimeout,
  wrap as cWrap,
  handleAll,
  handleWhen,
  TimeoutStrategy,
} from "cockatiel";
import CircuitBreaker from "opossum";
import {
  bulkhead,
  circuitBreaker,
  constantBackoff,
  createPolicies,
  type Policy,
  retry,
  timeout,
  wrap,
} from "../src/platform/resilience/index.ts";
import { median, report } from "./_report.ts";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg("rounds", 21);
const CALLS = arg("calls", 1_000_000);
const BATCH = 1_000; // calls between event-loop turns, so timers (ours and theirs) run as in a server

const answer = async () => 42;
const failure = new Error("dependency down");
const failing = async (): Promise<number> => {
  throw failure;
};

type Call = () => Promise<unknown>;

interface Sample {
  /** Wall-clock ns per call. */
  wall: number;
  /** Process CPU ns per call: excludes time the OS gave other processes, so steadier on a shared box. */
  cpu: number;
}

async function timeCalls(call: Call, calls: number): Promise<Sample> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let done = 0; done < calls; done += BATCH) {
    for (let i = 0; i < BATCH; i++) await call().catch(() => {});
    await yieldToLoop();
  }
  const wall = ((performance.now() - t0) * 1e6) / calls;
  const cpu = process.cpuUsage(cpu0);
  return { wall, cpu: ((cpu.user + cpu.system) * 1e3) / calls };
}

type Medians = (name: string, metric: keyof Sample) => number;

/** Medians of per-round samples, rounds interleaved across cases. `share` scales a case's call count. */
async function sampleRoundRobin(
  cases: Record<string, Call>,
  share: (name: string) => number,
): Promise<Medians> {
  const perRound = (name: string) =>
    Math.max(BATCH, Math.round((CALLS * share(name)) / ROUNDS / BATCH) * BATCH);
  const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const [name, call] of Object.entries(cases)) await timeCalls(call, perRound(name) * 2); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, call] of Object.entries(cases))
      samples[name]!.push(await timeCalls(call, perRound(name)));
  }
  return (name, metric) => median(samples[name]!.map((x) => x[metric]));
}

/** Reports a case's wall and CPU medians, with the ratio against `anchor` measured in the same run. */
function reportCase(section: string, m: Medians, name: string, anchor?: string): void {
  for (const metric of ["wall", "cpu"] as const) {
    report({
      bench: "resilience",
      case: `${section}/${name}`,
      metric: metric === "wall" ? "ns_per_call" : "cpu_ns_per_call",
      value: m(name, metric),
      unit: "ns",
      better: "lower",
      ...(anchor ? { anchor: `${section}/${anchor}`, anchorValue: m(anchor, metric) } : {}),
    });
  }
}

// --- the stacks -------------------------------------------------------------------------------------

function bulwarkStack(strategy: "cooperative" | "aggressive"): Policy {
  return wrap(
    retry({ maxAttempts: 3, backoff: constantBackoff(0) }),
    circuitBreaker({ window: { kind: "consecutive", threshold: 5 }, openMs: 10_000 }),
    timeout(1_000, { strategy }),
    bulkhead(100, { maxQueue: 100 }),
  );
}

function bulwarkFromConfig(): Policy {
  return createPolicies({
    "payment-gateway": {
      retry: { maxAttempts: 3, backoff: "constant", initialMs: 0 },
      breaker: { window: { kind: "consecutive", threshold: 5 }, openMs: 10_000 },
      timeout: { ms: 1_000 },
      bulkhead: { maxConcurrent: 100, maxQueue: 100 },
    },
  }).for("payment-gateway");
}

function cockatielStack(strategy: TimeoutStrategy, withTimeout = true) {
  const policies = [
    cRetry(handleAll, { maxAttempts: 2, backoff: new ConstantBackoff(0) }),
    cBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
    ...(withTimeout ? [cTimeout(1_000, strategy)] : []),
    cBulkhead(100, 100),
  ] as const;
  return cWrap(...policies);
}

/** opossum has timeout, breaker and bulkhead (capacity) built in; retry is a plain loop around fire(). */
function opossumStack(fn: () => Promise<number>, options: CircuitBreaker.Options = {}) {
  const breaker = new CircuitBreaker(fn, { timeout: 1_000, resetTimeout: 10_000, capacity: 100, ...options });
  const call = async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await breaker.fire();
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
  };
  return { breaker, call };
}

// --- success path -----------------------------------------------------------------------------------

async function successPath(): Promise<void> {
  const bulwark = bulwarkStack("cooperative");
  const bulwarkAggressive = bulwarkStack("aggressive");
  const bulwarkConfig = bulwarkFromConfig();
  const bulwarkNoTimeout = wrap(
    retry({ maxAttempts: 3, backoff: constantBackoff(0) }),
    circuitBreaker({ window: { kind: "consecutive", threshold: 5 }, openMs: 10_000 }),
    bulkhead(100, { maxQueue: 100 }),
  );
  const cockatiel = cockatielStack(TimeoutStrategy.Cooperative);
  const cockatielAggressive = cockatielStack(TimeoutStrategy.Aggressive);
  const cockatielNoTimeout = cockatielStack(TimeoutStrategy.Cooperative, false);
  const opossum = opossumStack(answer);

  const cases: Record<string, Call> = {
    bare: answer,
    bulwark: () => bulwark.execute(answer),
    "bulwark-aggressive": () => bulwarkAggressive.execute(answer),
    "bulwark-config": () => bulwarkConfig.execute(answer),
    "bulwark-no-timeout": () => bulwarkNoTimeout.execute(answer),
    cockatiel: () => cockatiel.execute(answer),
    "cockatiel-aggressive": () => cockatielAggressive.execute(answer),
    "cockatiel-no-timeout": () => cockatielNoTimeout.execute(answer),
    opossum: opossum.call,
  };
  // cockatiel's timeout costs microseconds per call; fewer calls keep the run short without changing ns/op.
  const m = await sampleRoundRobin(cases, (name) =>
    name.startsWith("cockatiel") || name === "opossum" ? 0.2 : 1,
  );
  const line = (name: string, anchor?: string) => reportCase("success", m, name, anchor);
  line("bare");
  line("bulwark", "cockatiel");
  line("bulwark", "opossum");
  line("bulwark-aggressive", "cockatiel-aggressive");
  line("bulwark-config", "cockatiel");
  line("bulwark-no-timeout", "cockatiel-no-timeout");
  line("cockatiel");
  line("cockatiel-aggressive");
  line("cockatiel-no-timeout");
  line("opossum");
  report({
    bench: "resilience",
    case: "success/bulwark-overhead",
    metric: "ns_per_call_over_bare",
    value: m("bulwark", "wall") - m("bare", "wall"),
    unit: "ns",
    better: "lower",
  });
}

// --- open-circuit rejection ---------------------------------------------------------------------------

async function openRejection(): Promise<void> {
  const breaker = circuitBreaker({ window: { kind: "consecutive", threshold: 1 }, openMs: 1e9 });
  breaker.isolate();
  const stack = bulwarkStack("cooperative");
  const stackBreaker = (stack as unknown as { stages: unknown[] }).stages[1] as { isolate(): void };
  stackBreaker.isolate();
  const cockatielBreaker = cBreaker(handleAll, { halfOpenAfter: 1e9, breaker: new ConsecutiveBreaker(1) });
  cockatielBreaker.isolate();
  const cockatiel = cockatielStack(TimeoutStrategy.Cooperative);
  const cockatielStackBreaker = cBreaker(handleAll, {
    halfOpenAfter: 1e9,
    breaker: new ConsecutiveBreaker(1),
  });
  const cockatielFull = cWrap(
    cRetry(
      handleWhen(() => false),
      { maxAttempts: 2 },
    ),
    cockatielStackBreaker,
    cTimeout(1_000, TimeoutStrategy.Cooperative),
    cBulkhead(100, 100),
  );
  cockatielStackBreaker.isolate();
  void cockatiel;
  const opossum = new CircuitBreaker(answer, { timeout: 1_000, resetTimeout: 1e9 });
  opossum.open();

  const cases: Record<string, Call> = {
    bulwark: () => breaker.execute(answer),
    "bulwark-stack": () => stack.execute(answer),
    cockatiel: () => cockatielBreaker.execute(answer),
    "cockatiel-stack": () => cockatielFull.execute(answer),
    opossum: () => opossum.fire(),
  };
  const m = await sampleRoundRobin(cases, (name) => (name.startsWith("bulwark") ? 1 : 0.1));
  const line = (name: string, anchor?: string) => reportCase("open-rejection", m, name, anchor);
  line("bulwark", "cockatiel");
  line("bulwark", "opossum");
  line("bulwark-stack", "cockatiel-stack");
  line("cockatiel");
  line("cockatiel-stack");
  line("opossum");
}

// --- event-loop stall under failures ------------------------------------------------------------------

interface Stall {
  /** Worst event-loop delay while failing calls ran after the history was built (monitorEventLoopDelay, beyond its 1 ms interval). */
  loopMaxMs: number;
  loopP99Ms: number;
  /** Worst wall time of one failing call after the history was built. */
  callMaxMs: number;
  /**
   * Worst CPU time of a batch of 100 failing calls: unlike wall time it does not count the time the OS
   * gave to other processes, so it bounds any stall our own code causes even on a busy machine.
   */
  cpuPer100MaxMs: number;
  /** Mean CPU time of one failing call over the watched window, in ms. */
  cpuPerFailureMeanMs: number;
}

const LOOP_RESOLUTION_MS = 1;
/**
 * The histogram records the whole interval between its timer's runs, resolution included (an idle loop
 * reads min 1.01 ms at resolution 1), so the delay is the reading minus the resolution.
 */
const loopDelayMs = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);

/** Builds a history of `calls` failures, then watches the event loop over `observe` more. */
async function stallAfterFailures(call: Call, calls: number, observe = 10_000): Promise<Stall> {
  for (let done = 0; done < calls; done += 100) {
    for (let i = 0; i < 100; i++) await call().catch(() => {});
    await yieldToLoop();
  }
  const histogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  histogram.enable();
  let callMaxMs = 0;
  let cpuPer100MaxMs = 0;
  let cpuTotalMs = 0;
  for (let done = 0; done < observe; done += 100) {
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < 100; i++) {
      const t0 = performance.now();
      await call().catch(() => {});
      callMaxMs = Math.max(callMaxMs, performance.now() - t0);
    }
    const cpu = process.cpuUsage(cpu0);
    cpuPer100MaxMs = Math.max(cpuPer100MaxMs, (cpu.user + cpu.system) / 1000);
    cpuTotalMs += (cpu.user + cpu.system) / 1000;
    await yieldToLoop();
  }
  histogram.disable();
  return {
    loopMaxMs: loopDelayMs(histogram.max),
    loopP99Ms: loopDelayMs(histogram.percentile(99)),
    callMaxMs,
    cpuPer100MaxMs,
    cpuPerFailureMeanMs: cpuTotalMs / observe,
  };
}

async function failureStall(): Promise<void> {
  // Breakers that never open, so every call is a recorded failure rather than a fast rejection.
  const never = 2 ** 31;
  const bulwark = wrap(
    retry({ maxAttempts: 1 }),
    circuitBreaker({ window: { kind: "count", size: 100, failureRate: 1, minimumCalls: never } }),
    timeout(1_000),
    bulkhead(100, { maxQueue: 100 }),
  );
  const cockatiel = cWrap(
    cRetry(
      handleWhen(() => false),
      { maxAttempts: 1 },
    ),
    cBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(never) }),
    cTimeout(1_000, TimeoutStrategy.Cooperative),
    cBulkhead(100, 100),
  );
  const opossum = new CircuitBreaker(failing, { timeout: 1_000, capacity: 100, volumeThreshold: never });
  const opossumCalls = arg("opossum-failures", 20_000);
  const results = {
    // The same loop with no policy at all: the floor set by the machine (GC, other processes).
    bare: { calls: CALLS, ...(await stallAfterFailures(failing, CALLS)) },
    bulwark: { calls: CALLS, ...(await stallAfterFailures(() => bulwark.execute(failing), CALLS)) },
    cockatiel: {
      calls: CALLS / 5,
      ...(await stallAfterFailures(() => cockatiel.execute(failing), CALLS / 5)),
    },
    opossum: { calls: opossumCalls, ...(await stallAfterFailures(() => opossum.fire(), opossumCalls, 500)) },
  };
  for (const [name, r] of Object.entries(results)) {
    const anchor = name === "bulwark" ? results.opossum : undefined;
    if (name === "bulwark") {
      report({
        bench: "resilience",
        case: `failures/bulwark-after-${r.calls}`,
        metric: "event_loop_delay_max_over_bare",
        value: r.loopMaxMs - results.bare.loopMaxMs,
        unit: "ms",
        better: "lower",
      });
    }
    for (const metric of [
      "loopMaxMs",
      "loopP99Ms",
      "callMaxMs",
      "cpuPer100MaxMs",
      "cpuPerFailureMeanMs",
    ] as const) {
      report({
        bench: "resilience",
        case: `failures/${name}-after-${r.calls}`,
        metric: {
          loopMaxMs: "event_loop_delay_max",
          loopP99Ms: "event_loop_delay_p99",
          callMaxMs: "failure_wall_max",
          cpuPer100MaxMs: "cpu_per_100_failures_max",
          cpuPerFailureMeanMs: "cpu_per_failure_mean",
        }[metric],
        value: r[metric],
        unit: "ms",
        better: "lower",
        ...(anchor ? { anchor: `failures/opossum-after-${anchor.calls}`, anchorValue: anchor[metric] } : {}),
      });
    }
  }
}

// --only success|open-rejection|failures runs one section.
const only = process.argv[process.argv.indexOf("--only") + 1];
const wanted = (section: string) => !process.argv.includes("--only") || only === section;
if (wanted("success")) await successPath();
if (wanted("open-rejection")) await openRejection();
if (wanted("failures")) await failureStall();

import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import {
  type Activity,
  type Experiment,
  type FunctionRegistry,
  isChaosError,
  parseExperiment,
  runExperiment,
} from "../../../src/platform/chaos/index.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";
import { eventually } from "../../support/services.ts";

const fn = (name: string, func: string, extra: Partial<Activity> = {}, args = {}): Activity => ({
  type: "action",
  name,
  provider: { type: "bulwark", func, arguments: args },
  ...extra,
});
const probe = (name: string, func: string, tolerance: unknown): Activity => ({
  type: "probe",
  name,
  tolerance: tolerance as Activity["tolerance"],
  provider: { type: "bulwark", func },
});

/** Functions that record calls, so tests see what ran and in which order. */
function recorder(values: Record<string, () => unknown> = {}) {
  const calls: string[] = [];
  const functions: FunctionRegistry = new Proxy(
    {},
    {
      get: (_t, name: string) => (args: Record<string, unknown>) => {
        calls.push(name);
        if (name === "fail") throw new Error(String(args.why ?? "boom"));
        return values[name]?.() ?? null;
      },
    },
  );
  return { calls, functions };
}

function experiment(overrides: Partial<Experiment>): Experiment {
  return {
    title: "t",
    description: "d",
    "steady-state-hypothesis": { title: "healthy", probes: [probe("healthy", "healthy", true)] },
    method: [fn("inject", "inject")],
    rollbacks: [fn("undo", "undo")],
    ...overrides,
  };
}

let server: FastifyInstance | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("experiment runner", () => {
  it("completes when the hypothesis holds before and after, and writes a full journal", async () => {
    const { calls, functions } = recorder({ healthy: () => true, inject: () => ({ injected: 1 }) });
    const journal = await runExperiment(experiment({}), { functions });
    expect(calls).toEqual(["healthy", "inject", "healthy", "undo"]);
    expect(journal).toMatchObject({ status: "completed", deviated: false });
    expect(journal.steady_states.before?.steady_state_met).toBe(true);
    expect(journal.steady_states.after?.probes[0]).toMatchObject({
      status: "succeeded",
      tolerance_met: true,
    });
    expect(journal.run).toHaveLength(1);
    expect(journal.run[0]).toMatchObject({ status: "succeeded", output: { injected: 1 } });
    expect(journal.run[0]!.duration).toBeGreaterThanOrEqual(0);
    expect(Date.parse(journal.run[0]!.start)).not.toBeNaN();
    expect(journal.rollbacks[0]).toMatchObject({ status: "succeeded" });
    expect(journal.duration).toBeGreaterThanOrEqual(0);
  });

  it("bails out when the hypothesis fails before the method; rollbacks still run", async () => {
    const { calls, functions } = recorder({ healthy: () => false });
    const journal = await runExperiment(experiment({}), { functions });
    expect(journal).toMatchObject({ status: "failed", deviated: false, run: [] });
    expect(journal.steady_states.before).toMatchObject({ steady_state_met: false });
    expect(journal.steady_states.after).toBeNull();
    expect(calls).toEqual(["healthy", "undo"]);
  });

  it("is deviated when the hypothesis fails after the method", async () => {
    let injected = false;
    const { functions } = recorder({
      healthy: () => !injected,
      inject: () => {
        injected = true;
      },
    });
    const journal = await runExperiment(experiment({}), { functions });
    expect(journal).toMatchObject({ status: "failed", deviated: true });
    expect(journal.steady_states.after?.probes[0]).toMatchObject({ tolerance_met: false });
    expect(journal.rollbacks).toHaveLength(1);
  });

  it("runs rollbacks after a failing action, and records the failure", async () => {
    const { calls, functions } = recorder({ healthy: () => true });
    const journal = await runExperiment(
      experiment({ method: [fn("break", "fail", {}, { why: "gateway refused" }), fn("more", "inject")] }),
      { functions },
    );
    expect(journal.run[0]).toMatchObject({ status: "failed", exception: "gateway refused", output: null });
    expect(calls).toEqual(["healthy", "fail", "inject", "healthy", "undo"]);
    expect(journal.rollbacks[0]).toMatchObject({ status: "succeeded" });
  });

  it("fail_fast stops the method at a failing action (aborted), and rollbacks still run", async () => {
    const { calls, functions } = recorder({ healthy: () => true });
    const journal = await runExperiment(
      experiment({ method: [fn("break", "fail"), fn("more", "inject")], runtime: { fail_fast: true } }),
      { functions },
    );
    expect(journal.status).toBe("aborted");
    expect(calls).toEqual(["healthy", "fail", "undo"]);
  });

  it("a failing rollback does not stop the others", async () => {
    const { calls, functions } = recorder({ healthy: () => true });
    const journal = await runExperiment(experiment({ rollbacks: [fn("r1", "fail"), fn("r2", "undo")] }), {
      functions,
    });
    expect(journal.rollbacks.map((r) => r.status)).toEqual(["failed", "succeeded"]);
    expect(calls.slice(-2)).toEqual(["fail", "undo"]);
  });

  it("honours pauses on the clock, and Ctrl-C interrupts the method but not the rollbacks", async () => {
    const clock = new FakeClock();
    const { calls, functions } = recorder({ healthy: () => true });
    const ctrlC = new AbortController();
    const running = runExperiment(
      experiment({
        method: [fn("inject", "inject", { pauses: { before: 5, after: 60 } }), fn("never", "never")],
      }),
      { functions, clock, signal: ctrlC.signal },
    );
    await eventually(() => clock.pending > 0, { message: "pause armed" });
    expect(calls).toEqual(["healthy"]);
    await clock.advance(5_000);
    await eventually(() => calls.includes("inject"), { message: "inject after the pause" });
    ctrlC.abort(new Error("SIGINT"));
    const journal = await running;
    expect(journal.status).toBe("interrupted");
    expect(calls).toEqual(["healthy", "inject", "undo"]);
    expect(journal.rollbacks[0]).toMatchObject({ status: "succeeded" });
  });

  it("runs background activities alongside the method and waits for them", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const functions: FunctionRegistry = {
      healthy: () => true,
      slow: async () => {
        await gate;
        return "slow done";
      },
      fast: () => {
        release();
        return "fast done";
      },
    };
    const journal = await runExperiment(
      experiment({ method: [fn("slow", "slow", { background: true }), fn("fast", "fast")], rollbacks: [] }),
      { functions },
    );
    expect(journal.status).toBe("completed");
    expect(journal.run.map((r) => r.output)).toEqual(["fast done", "slow done"]);
  });

  it("uses http and process providers, with configuration substitution", async () => {
    server = Fastify();
    server.get("/health/ready", async () => ({ status: "ready", checks: { db: { status: "ok" } } }));
    server.get("/broken", async (_req, reply) => reply.code(503).send({ status: "down" }));
    const base = await server.listen({ port: 0, host: "127.0.0.1" });
    const journal = await runExperiment(
      {
        title: "providers",
        description: "d",
        configuration: { base_url: { type: "env", key: "TEST_BASE_URL" }, node: process.execPath },
        "steady-state-hypothesis": {
          title: "ready",
          probes: [
            {
              type: "probe",
              name: "ready",
              tolerance: 200,
              // biome-ignore lint/suspicious/noTemplateCurlyInString: Chaos Toolkit's ${name} substitution
              provider: { type: "http", url: "${base_url}/health/ready" },
            },
            {
              type: "probe",
              name: "db ok",
              tolerance: { type: "jsonpath", path: "$.checks.db.status", expect: "ok" },
              // biome-ignore lint/suspicious/noTemplateCurlyInString: Chaos Toolkit's ${name} substitution
              provider: { type: "http", url: "${base_url}/health/ready" },
            },
            {
              type: "probe",
              name: "process",
              tolerance: { type: "regex", pattern: "^hello", target: "stdout" },
              // biome-ignore lint/suspicious/noTemplateCurlyInString: Chaos Toolkit's ${name} substitution
              provider: { type: "process", path: "${node}", arguments: ["-e", "console.log('hello')"] },
            },
          ],
        },
        method: [
          {
            type: "probe",
            name: "expects 200",
            // biome-ignore lint/suspicious/noTemplateCurlyInString: Chaos Toolkit's ${name} substitution
            provider: { type: "http", url: "${base_url}/broken", expected_status: 200 },
          },
        ],
      },
      { env: { TEST_BASE_URL: base } },
    );
    expect(journal.steady_states.before?.probes.map((p) => p.tolerance_met)).toEqual([true, true, true]);
    expect(journal.run[0]).toMatchObject({ status: "failed", exception: expect.stringContaining("503") });
    expect(journal.status).toBe("completed");
  });

  it("parses YAML experiments and names the bad field of an invalid one", () => {
    const parsed = parseExperiment(`
title: yaml
description: parsed
method:
  - type: action
    name: a
    provider: { type: bulwark, func: bulwark.proxy.reset }
`);
    expect(parsed.method[0]?.provider).toEqual({ type: "bulwark", func: "bulwark.proxy.reset" });
    let caught: unknown;
    try {
      parseExperiment(`{"title": "x", "description": "y", "method": []}`);
    } catch (e) {
      caught = e;
    }
    expect(isChaosError(caught) && caught.code).toBe("BWK_ERR_CHAOS_EXPERIMENT_INVALID");
    expect(isChaosError(caught) && caught.errors[0]?.field).toBe("method");
  });
});

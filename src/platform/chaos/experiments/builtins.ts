import type { ProcessFault, ProcessStatus, ProcessTarget } from "../../supervisor/index.ts";
import { ChaosValidationError } from "../errors.ts";
import type { FailureFlagStore } from "../flags/flag-store.ts";
import { callJson } from "../http/json-client.ts";
import type { FaultProxyControl } from "../proxy/client.ts";
import type { ToxicInput } from "../proxy/fault-proxy-server.ts";
import type { ChaosFunction, FunctionRegistry } from "./functions.ts";

/** Anything that takes process faults: the in-process `Supervisor` or a `SupervisorClient`. */
export interface SupervisorControl {
  fault(action: ProcessFault, target: ProcessTarget): Promise<unknown>;
  status(): Promise<{ processes: ProcessStatus[] } | ProcessStatus[]> | ProcessStatus[];
}

type Lazy<T> = T | (() => T | Promise<T>);

export interface BuiltinTargets {
  /** The fault proxy, in-process or over HTTP; resolved on first use. */
  proxy?: Lazy<FaultProxyControl>;
  supervisor?: Lazy<SupervisorControl>;
  /** An in-process flag store; without it, `bulwark.flags.*` call `<url>/admin/chaos/flags` with `adminToken`. */
  flags?: FailureFlagStore;
  adminToken?: string;
}

async function resolve<T>(what: string, target: Lazy<T> | undefined): Promise<T> {
  if (target === undefined) throw new Error(`${what} is not configured for this run`);
  return typeof target === "function" ? await (target as () => T | Promise<T>)() : target;
}

function need<T>(args: Record<string, unknown>, key: string, type: string): T {
  const value = args[key];
  if (typeof value !== type) {
    throw new ChaosValidationError(`argument ${key} is required`, [
      { field: `arguments.${key}`, message: `must be a ${type}` },
    ]);
  }
  return value as T;
}

function processTarget(args: Record<string, unknown>): ProcessTarget {
  if (typeof args.process === "string") return args.process;
  return { service: need<string>(args, "service", "string"), random: args.random !== false };
}

/**
 * The functions experiments call through `{type: bulwark, func: ...}`: fault proxy toxics, supervisor process
 * faults, failure flags, and a latency/error probe.
 */
export function builtinFunctions(targets: BuiltinTargets): FunctionRegistry {
  const proxy = () => resolve("the fault proxy", targets.proxy);
  const supervisor = () => resolve("the supervisor", targets.supervisor);
  const processFault =
    (action: ProcessFault): ChaosFunction =>
    async (args) =>
      (await supervisor()).fault(action, processTarget(args));
  const flagsUrl = (args: Record<string, unknown>) =>
    `${need<string>(args, "url", "string").replace(/\/$/, "")}/admin/chaos`;

  return {
    "bulwark.proxy.add_toxic": async (args) => {
      const { proxy: name, ...toxic } = args;
      return (await proxy()).addToxic(
        need<string>({ proxy: name }, "proxy", "string"),
        toxic as unknown as ToxicInput,
      );
    },
    "bulwark.proxy.update_toxic": async (args) =>
      (await proxy()).updateToxic(need(args, "proxy", "string"), need(args, "name", "string"), {
        ...(args.toxicity === undefined ? {} : { toxicity: args.toxicity as number }),
        ...(args.attributes === undefined ? {} : { attributes: args.attributes as Record<string, number> }),
      }),
    "bulwark.proxy.remove_toxic": async (args) => {
      await (await proxy()).removeToxic(need(args, "proxy", "string"), need(args, "name", "string"));
      return { removed: args.name };
    },
    "bulwark.proxy.disable": async (args) =>
      (await proxy()).updateProxy(need(args, "proxy", "string"), { enabled: false }),
    "bulwark.proxy.enable": async (args) =>
      (await proxy()).updateProxy(need(args, "proxy", "string"), { enabled: true }),
    "bulwark.proxy.reset": async () => {
      await (await proxy()).reset();
      return { reset: true };
    },
    "bulwark.proxy.list": async () => (await proxy()).listProxies(),

    "bulwark.supervisor.kill": processFault("kill"),
    "bulwark.supervisor.pause": processFault("pause"),
    "bulwark.supervisor.resume": processFault("resume"),
    "bulwark.supervisor.restart": processFault("restart"),
    "bulwark.supervisor.status": async () => {
      const status = await (await supervisor()).status();
      return Array.isArray(status) ? { processes: status } : status;
    },

    "bulwark.supervisor.wait_until_ready": async (args, { clock, signal }) => {
      const control = await supervisor();
      const timeoutMs = (typeof args.timeout === "number" ? args.timeout : 10) * 1000;
      const started = clock.monotonic();
      for (;;) {
        const status = await control.status();
        const processes = (Array.isArray(status) ? status : status.processes).filter(
          (p) => typeof args.service !== "string" || p.service === args.service,
        );
        const ready = processes.length > 0 && processes.every((p) => p.ready);
        const waited = clock.monotonic() - started;
        if (ready || waited >= timeoutMs) return { ready, waited_ms: Math.round(waited) };
        await clock.sleep(Math.min(100, timeoutMs - waited), signal);
      }
    },

    "bulwark.flags.set": async (args) => {
      const { url: _url, id, ...flag } = args;
      const flagId = need<string>({ id }, "id", "string");
      if (targets.flags) return targets.flags.set(flagId, flag);
      return callJson(
        flagsUrl(args),
        "PUT",
        `/flags/${encodeURIComponent(flagId)}`,
        targets.adminToken,
        flag,
      );
    },
    "bulwark.flags.delete": async (args) => {
      const id = need<string>(args, "id", "string");
      if (targets.flags) targets.flags.delete(id);
      else await callJson(flagsUrl(args), "DELETE", `/flags/${encodeURIComponent(id)}`, targets.adminToken);
      return { deleted: id };
    },
    "bulwark.flags.clear": async (args) => {
      if (targets.flags) targets.flags.clear();
      else await callJson(flagsUrl(args), "DELETE", "/flags", targets.adminToken);
      return { cleared: true };
    },

    "bulwark.http.measure": measureHttp,
  };
}

/**
 * A probe: sends `warmup` (default 1) unmeasured requests, then `requests` GETs (or `method`) to `url`,
 * `concurrency` at a time, and reports the error rate (5xx or no answer) and latency percentiles, for tolerances like `{type: range, range: [0, 0.01], target: error_rate}`.
 */
const measureHttp: ChaosFunction = async (args, { signal }) => {
  const url = need<string>(args, "url", "string");
  const total = typeof args.requests === "number" ? args.requests : 20;
  const concurrency = typeof args.concurrency === "number" ? args.concurrency : 1;
  const timeoutMs = (typeof args.timeout === "number" ? args.timeout : 5) * 1000;
  const method = typeof args.method === "string" ? args.method : "GET";
  // Unmeasured first requests open the connection and warm the path, so one cold start is not the p95.
  const warmup = typeof args.warmup === "number" ? args.warmup : 1;
  for (let i = 0; i < warmup && !signal.aborted; i++) {
    await fetch(url, { method, signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) }).then(
      (r) => r.body?.cancel(),
      () => undefined,
    );
  }
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const worker = async () => {
    while (next < total && !signal.aborted) {
      next++;
      const t0 = performance.now();
      try {
        const response = await fetch(url, {
          method,
          signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
        });
        await response.body?.cancel();
        if (response.status >= 500) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0);
  return {
    requests: latencies.length,
    errors,
    error_rate: latencies.length ? errors / latencies.length : 0,
    p50_ms: pct(0.5),
    p95_ms: pct(0.95),
    max_ms: Math.round(latencies.at(-1) ?? 0),
  };
};

import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { Clock, TimerHandle } from "../time/index.ts";
import { type RestartBackoff, restartDelay } from "./backoff.ts";
import type {
  ExitInfo,
  ProcessSpec,
  ProcessState,
  ProcessStatus,
  RestartReason,
  SupervisorEvents,
  SupervisorLogger,
} from "./types.ts";

export interface ProbeSettings {
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive liveness failures that trigger a restart. */
  failureThreshold: number;
  /** Liveness failures before the first success are ignored for this long after a start (a startup probe). */
  startupGraceMs: number;
}

export interface ManagedProcessOptions {
  spec: ProcessSpec;
  clock: Clock;
  logger: SupervisorLogger;
  backoff: RestartBackoff;
  probes: ProbeSettings;
  stopGraceMs: number;
  emit<K extends keyof SupervisorEvents>(event: K, ...args: SupervisorEvents[K]): void;
}

/** One supervised child: spawns it, watches it exit or fail its probes, and brings it back with backoff. */
export class ManagedProcess {
  readonly spec: ProcessSpec;
  readonly #o: ManagedProcessOptions;
  #child: ChildProcess | undefined;
  #exited: Promise<ExitInfo> | undefined;
  #state: ProcessState = "stopped";
  #wanted = false;
  #restarts = 0;
  #consecutiveCrashes = 0;
  #startedAt = 0;
  #lastExit: ExitInfo | undefined;
  #ready = false;
  #livenessFailures = 0;
  #livenessPassed = false;
  #restartTimer: TimerHandle | undefined;
  #probeTimer: TimerHandle | undefined;

  constructor(options: ManagedProcessOptions) {
    this.spec = options.spec;
    this.#o = options;
  }

  get state(): ProcessState {
    return this.#state;
  }

  status(): ProcessStatus {
    const alive = this.#child !== undefined && ["running", "paused", "starting"].includes(this.#state);
    return {
      name: this.spec.name,
      service: this.spec.service,
      state: this.#state,
      pid: this.#child?.pid,
      ready: this.#state === "running" && (this.spec.readinessUrl ? this.#ready : true),
      restarts: this.#restarts,
      lastExit: this.#lastExit,
      uptimeMs: alive ? Math.round(this.#o.clock.monotonic() - this.#startedAt) : undefined,
      livenessFailures: this.#livenessFailures,
    };
  }

  start(): void {
    this.#wanted = true;
    if (!this.#child && this.#state !== "backoff") this.#spawn();
  }

  /** SIGTERM, then SIGKILL after the grace period; the process stays down. */
  async stop(): Promise<void> {
    this.#wanted = false;
    this.#restartTimer?.cancel();
    if (!this.#child) {
      this.#setState("stopped");
      return;
    }
    this.#setState("stopping");
    await this.#terminate();
  }

  /**
   * Sends a signal as a fault would. For SIGKILL it resolves once the exit is seen, so status never shows a
   * killed process as ready; the exit counts as a crash and the process comes back with backoff.
   */
  async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child) return;
    const exited = this.#exited;
    if (signal === "SIGKILL") this.#ready = false;
    child.kill(signal);
    if (signal === "SIGKILL") await exited;
  }

  pause(): void {
    if (this.#state !== "running" && this.#state !== "starting") return;
    this.#child?.kill("SIGSTOP");
    this.#setState("paused");
  }

  resume(): void {
    if (this.#state !== "paused") return;
    this.#child?.kill("SIGCONT");
    this.#setState("running");
  }

  /** Graceful stop, then an immediate start. */
  async restart(reason: RestartReason): Promise<void> {
    this.#wanted = true;
    this.#restarts++;
    this.#o.logger.warn({ process: this.spec.name, reason }, "restarting process");
    this.#o.emit("restart", { name: this.spec.name, reason, attempt: this.#restarts, delayMs: 0 });
    if (!this.#child) {
      this.#restartTimer?.cancel();
      this.#spawn();
      return;
    }
    this.#setState("restarting");
    await this.#terminate();
  }

  #spawn(): void {
    const { spec } = this.#o;
    this.#setState("starting");
    const child = spawn(spec.command, spec.args ?? [], {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#child = child;
    this.#startedAt = this.#o.clock.monotonic();
    this.#ready = false;
    this.#livenessFailures = 0;
    this.#livenessPassed = false;
    for (const stream of ["stdout", "stderr"] as const) {
      createInterface({ input: child[stream] }).on("line", (line) =>
        this.#o.emit("output", { name: spec.name, stream, line }),
      );
    }
    this.#exited = new Promise((resolve) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        const info: ExitInfo = { code, signal, at: this.#o.clock.now() };
        resolve(info);
        this.#onExit(child, info);
      };
      child.once("exit", onExit);
      // A command that cannot be spawned (ENOENT) errors without exiting.
      child.once("error", (err) => {
        if (child.pid === undefined) {
          this.#o.logger.error({ process: spec.name, err }, "process could not be spawned");
          onExit(null, null);
        }
      });
    });
    child.once("spawn", () => {
      if (this.#child === child && this.#state === "starting") this.#setState("running");
      this.#scheduleProbe(child);
    });
  }

  #onExit(child: ChildProcess, exit: ExitInfo): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    this.#lastExit = exit;
    this.#ready = false;
    this.#probeTimer?.cancel();
    const requested = this.#state === "restarting";
    const expected = !this.#wanted || requested || this.#state === "stopping";
    this.#o.emit("exit", { name: this.spec.name, exit, expected });
    if (!this.#wanted) {
      this.#setState("stopped");
      return;
    }
    if (requested) {
      this.#spawn();
      return;
    }
    const upFor = this.#o.clock.monotonic() - this.#startedAt;
    if (upFor >= (this.#o.backoff.resetAfterMs ?? 10_000)) this.#consecutiveCrashes = 0;
    this.#consecutiveCrashes++;
    this.#restarts++;
    const delayMs = restartDelay(this.#o.backoff, this.#consecutiveCrashes);
    this.#o.logger.warn(
      { process: this.spec.name, exit, attempt: this.#restarts, delayMs },
      "process exited unexpectedly; restarting after backoff",
    );
    this.#o.emit("restart", {
      name: this.spec.name,
      reason: "crash",
      attempt: this.#restarts,
      delayMs,
      exit,
    });
    this.#setState("backoff");
    this.#restartTimer = this.#o.clock.setTimeout(() => {
      if (this.#wanted && this.#state === "backoff") this.#spawn();
    }, delayMs);
  }

  #terminate(): Promise<ExitInfo> {
    const child = this.#child!;
    const exited = this.#exited!;
    child.kill("SIGTERM");
    // A paused process cannot handle SIGTERM until it runs again.
    child.kill("SIGCONT");
    const force = this.#o.clock.setTimeout(() => child.kill("SIGKILL"), this.#o.stopGraceMs);
    return exited.finally(() => force.cancel());
  }

  #scheduleProbe(child: ChildProcess): void {
    const { livenessUrl, readinessUrl } = this.spec;
    if (!livenessUrl && !readinessUrl) return;
    // Until it first answers, probe often: a restarted process should count as ready soon after it is.
    const answered = this.#ready || this.#livenessPassed;
    const delay = answered ? this.#o.probes.intervalMs : Math.min(this.#o.probes.intervalMs, 250);
    this.#probeTimer = this.#o.clock.setTimeout(() => void this.#probe(child), delay);
  }

  async #probe(child: ChildProcess): Promise<void> {
    const { spec, probes } = this.#o;
    if (this.#child !== child) return;
    if (spec.livenessUrl) {
      const alive = await httpOk(spec.livenessUrl, probes.timeoutMs);
      if (this.#child !== child) return;
      if (alive) {
        this.#livenessFailures = 0;
        this.#livenessPassed = true;
      } else if (
        this.#livenessPassed ||
        this.#o.clock.monotonic() - this.#startedAt >= probes.startupGraceMs
      ) {
        this.#livenessFailures++;
        this.#o.logger.warn(
          { process: spec.name, failures: this.#livenessFailures, threshold: probes.failureThreshold },
          "liveness probe failed",
        );
        if (this.#livenessFailures >= probes.failureThreshold && this.#state !== "restarting") {
          await this.restart("liveness");
          return;
        }
      }
    }
    if (spec.readinessUrl) {
      const ready = await httpOk(spec.readinessUrl, probes.timeoutMs);
      if (this.#child !== child) return;
      this.#ready = ready;
    }
    this.#scheduleProbe(child);
  }

  #setState(to: ProcessState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#o.emit("state", { name: this.spec.name, from, to });
  }
}

async function httpOk(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

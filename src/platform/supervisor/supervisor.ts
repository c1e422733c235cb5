import { EventEmitter } from "node:events";
import { seededRandom } from "../random/index.ts";
import { type Clock, systemClock } from "../time/index.ts";
import type { RestartBackoff } from "./backoff.ts";
import { SupervisorError } from "./errors.ts";
import { ManagedProcess } from "./managed-process.ts";
import {
  type ProcessFault,
  type ProcessSpec,
  type ProcessStatus,
  type ProcessTarget,
  type SupervisorEvents,
  type SupervisorLogger,
  silentLogger,
} from "./types.ts";

export interface SupervisorOptions {
  processes: ProcessSpec[];
  restartBackoff?: RestartBackoff;
  /** Consecutive liveness failures that restart a process. Defaults to 3. */
  livenessFailureThreshold?: number;
  /** Ms between probes of each process. Defaults to 1,000. */
  probeIntervalMs?: number;
  /** Ms before a probe counts as failed. Defaults to 1,000. */
  probeTimeoutMs?: number;
  /** Ms after a start during which liveness failures before the first success are ignored. Defaults to 10,000. */
  startupGraceMs?: number;
  /** Ms between SIGTERM and SIGKILL on stop. Defaults to 5,000. */
  stopGraceMs?: number;
  clock?: Clock;
  logger?: SupervisorLogger;
  /** Seed of the RNG that picks "a random instance" for faults; random when omitted. */
  seed?: number;
}

/**
 * Runs every service as its own process: restarts crashed ones with backoff, restarts ones whose liveness probe
 * fails K times in a row, logs every restart, and takes process faults (kill, pause, resume, restart).
 */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly #processes = new Map<string, ManagedProcess>();
  readonly #random: () => number;
  readonly #logger: SupervisorLogger;

  constructor(options: SupervisorOptions) {
    super();
    this.#logger = options.logger ?? silentLogger;
    this.#random = seededRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32));
    const clock = options.clock ?? systemClock;
    for (const spec of options.processes) {
      if (!spec.name || !spec.service || !spec.command) {
        throw new SupervisorError(
          "BWK_ERR_SUPERVISOR_BAD_SPEC",
          "a process needs a name, a service and a command",
        );
      }
      if (this.#processes.has(spec.name)) {
        throw new SupervisorError("BWK_ERR_SUPERVISOR_BAD_SPEC", `duplicate process name ${spec.name}`);
      }
      this.#processes.set(
        spec.name,
        new ManagedProcess({
          spec,
          clock,
          logger: this.#logger,
          backoff: options.restartBackoff ?? {},
          probes: {
            intervalMs: options.probeIntervalMs ?? 1_000,
            timeoutMs: options.probeTimeoutMs ?? 1_000,
            failureThreshold: options.livenessFailureThreshold ?? 3,
            startupGraceMs: options.startupGraceMs ?? 10_000,
          },
          stopGraceMs: options.stopGraceMs ?? 5_000,
          emit: (event, ...args) => this.emit(event, ...(args as never)),
        }),
      );
    }
  }

  start(): void {
    this.#logger.info({ processes: [...this.#processes.keys()] }, "supervisor starting processes");
    for (const process of this.#processes.values()) process.start();
  }

  /** Stops every process (SIGTERM, then SIGKILL after the grace) and waits for them to exit. */
  async stop(): Promise<void> {
    await Promise.all([...this.#processes.values()].map((p) => p.stop()));
    this.#logger.info({}, "supervisor stopped every process");
  }

  status(): ProcessStatus[] {
    return [...this.#processes.values()].map((p) => p.status());
  }

  /**
   * SIGKILL (or `signal`); the supervisor then restarts it with backoff, as after any crash. Resolves with its
   * name once a SIGKILLed process has exited.
   */
  async kill(target: ProcessTarget, signal: NodeJS.Signals = "SIGKILL"): Promise<string> {
    const process = this.#resolve(target, ["running", "paused", "starting"]);
    this.#logger.warn({ process: process.spec.name, signal }, "fault: signalling process");
    await process.signal(signal);
    return process.spec.name;
  }

  /** SIGSTOP: the process hangs, holding its sockets, until resumed (or restarted by its liveness probe). */
  pause(target: ProcessTarget): string {
    const process = this.#resolve(target, ["running", "starting"]);
    this.#logger.warn({ process: process.spec.name }, "fault: pausing process");
    process.pause();
    return process.spec.name;
  }

  resume(target: ProcessTarget): string {
    const process = this.#resolve(target, ["paused"]);
    this.#logger.info({ process: process.spec.name }, "resuming process");
    process.resume();
    return process.spec.name;
  }

  async restart(target: ProcessTarget): Promise<string> {
    const process = this.#resolve(target, ["running", "paused", "starting", "backoff"]);
    await process.restart("requested");
    return process.spec.name;
  }

  /** One entry point for the control API and experiments. */
  async fault(action: ProcessFault, target: ProcessTarget): Promise<string> {
    switch (action) {
      case "kill":
        return this.kill(target);
      case "pause":
        return this.pause(target);
      case "resume":
        return this.resume(target);
      case "restart":
        return this.restart(target);
    }
  }

  #resolve(target: ProcessTarget, states: string[]): ManagedProcess {
    if (typeof target === "string") {
      const process = this.#processes.get(target);
      if (!process)
        throw new SupervisorError("BWK_ERR_SUPERVISOR_UNKNOWN_TARGET", `no process named ${target}`);
      return process;
    }
    const instances = [...this.#processes.values()].filter((p) => p.spec.service === target.service);
    if (instances.length === 0) {
      throw new SupervisorError(
        "BWK_ERR_SUPERVISOR_UNKNOWN_TARGET",
        `no process of service ${target.service}`,
      );
    }
    const eligible = instances.filter((p) => states.includes(p.state));
    if (eligible.length === 0) {
      throw new SupervisorError(
        "BWK_ERR_SUPERVISOR_NOT_RUNNING",
        `no instance of ${target.service} is in state ${states.join("/")}`,
      );
    }
    const index = target.random ? Math.floor(this.#random() * eligible.length) : 0;
    return eligible[index]!;
  }
}

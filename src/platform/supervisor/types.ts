/** One process the supervisor runs. */
export interface ProcessSpec {
  /** Unique process name, e.g. "payment-1". */
  name: string;
  /** The service it is an instance of, e.g. "payment"; faults can target a random instance of it. */
  service: string;
  command: string;
  args?: string[];
  /** Added to the supervisor's own environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** GET answering 2xx while the process is alive; K failures in a row restart it. */
  livenessUrl?: string;
  /** GET answering 2xx while the process can take traffic; shown as `ready`. */
  readinessUrl?: string;
}

export type ProcessState =
  | "starting"
  | "running"
  | "paused"
  | "backoff"
  | "restarting"
  | "stopping"
  | "stopped";

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  /** Wall-clock ms since the epoch. */
  at: number;
}

export interface ProcessStatus {
  name: string;
  service: string;
  state: ProcessState;
  pid: number | undefined;
  /** True when running and the readiness probe (if any) last passed. */
  ready: boolean;
  restarts: number;
  lastExit: ExitInfo | undefined;
  /** Ms since the current instance started; undefined when not running. */
  uptimeMs: number | undefined;
  livenessFailures: number;
}

export type RestartReason = "crash" | "liveness" | "requested";

export interface SupervisorEvents {
  state: [{ name: string; from: ProcessState; to: ProcessState }];
  restart: [{ name: string; reason: RestartReason; attempt: number; delayMs: number; exit?: ExitInfo }];
  exit: [{ name: string; exit: ExitInfo; expected: boolean }];
  output: [{ name: string; stream: "stdout" | "stderr"; line: string }];
}

/** Which process a fault hits: a process name, or one instance of a service (a random one with `random`). */
export type ProcessTarget = string | { service: string; random?: boolean };

export type ProcessFault = "kill" | "pause" | "resume" | "restart";

/** The subset of a pino logger the supervisor logs through. */
export interface SupervisorLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: SupervisorLogger = { info() {}, warn() {}, error() {} };

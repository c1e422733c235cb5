import type { Service } from "../../platform/http/index.ts";
import type { AppConfig } from "../config.ts";
import type { Runtime } from "../runtime.ts";

/** What one case study's services look like once started in a process. */
export interface StartedCase {
  /** Base URL of each running service, by service name. */
  urls: Record<string, string>;
  services: Service[];
  stop(): Promise<void>;
}

/** A check's verdict: printed as JSON by `bulwark check <case>`; `ok: false` exits 1. */
export interface CheckResult {
  ok: boolean;
}

/**
 * How a case study plugs into the app: its roles (one service each, `<case>:<service>`), their ports, how to start
 * some of them on a runtime, and its invariant checker. `src/app/cases/index.ts` lists every case; nothing else in
 * the app names a case.
 */
export interface CaseModule {
  /** The config section and role prefix: `commerce`, `banking`, `analytics`. */
  readonly name: string;
  /** Service names, in start order (dependencies first). */
  readonly services: readonly string[];
  enabled(config: AppConfig): boolean;
  port(config: AppConfig, service: string): number;
  start(runtime: Runtime, services: readonly string[]): Promise<StartedCase>;
  /** `bulwark check <name>`: reads the case's stores and verifies its invariants. */
  check?(config: AppConfig, options: { graceMs?: number }): Promise<CheckResult>;
}

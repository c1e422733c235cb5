import { SupervisorError } from "./errors.ts";
import { readStateFile } from "./state-file.ts";
import type { ProcessFault, ProcessStatus, ProcessTarget } from "./types.ts";

export interface FaultResult {
  action: ProcessFault;
  process: string;
  status?: ProcessStatus;
}

/** Talks to a running supervisor's control API. */
export class SupervisorClient {
  readonly url: string;
  readonly #token: string;
  readonly #timeoutMs: number;

  constructor(options: { url: string; token: string; timeoutMs?: number }) {
    this.url = options.url.replace(/\/$/, "");
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
  }

  static async fromStateFile(path: string): Promise<SupervisorClient> {
    const state = await readStateFile(path);
    return new SupervisorClient({ url: state.url, token: state.token });
  }

  async status(): Promise<{ pid: number; processes: ProcessStatus[] }> {
    return this.#call("GET", "/status");
  }

  async fault(action: ProcessFault, target: ProcessTarget): Promise<FaultResult> {
    return this.#call("POST", "/faults", { action, target });
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(this.url + path, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (cause) {
      throw new SupervisorError("BWK_ERR_SUPERVISOR_UNREACHABLE", `supervisor at ${this.url} unreachable`, {
        cause,
      });
    }
    const payload = (await response.json()) as T & { detail?: string; title?: string };
    if (!response.ok) {
      throw new SupervisorError(
        response.status === 404 ? "BWK_ERR_SUPERVISOR_UNKNOWN_TARGET" : "BWK_ERR_SUPERVISOR_NOT_RUNNING",
        `${method} ${path}: ${response.status} ${payload.detail ?? payload.title ?? ""}`.trim(),
      );
    }
    return payload;
  }
}

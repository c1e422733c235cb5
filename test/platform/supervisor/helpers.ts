import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import type { ProcessSpec, SupervisorLogger } from "../../../src/platform/supervisor/index.ts";

export const FIXTURE = fileURLToPath(new URL("./fixtures/service.mjs", import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function fixtureSpec(name: string, mode = "ok", service = "svc"): Promise<ProcessSpec> {
  const port = await freePort();
  return {
    name,
    service,
    command: process.execPath,
    args: [FIXTURE],
    env: { PORT: String(port), MODE: mode },
    livenessUrl: `http://127.0.0.1:${port}/live`,
    readinessUrl: `http://127.0.0.1:${port}/ready`,
  };
}

export function memoryLogger(): SupervisorLogger & { lines: { level: string; msg: string; obj: object }[] } {
  const lines: { level: string; msg: string; obj: object }[] = [];
  const at = (level: string) => (obj: object, msg: string) => void lines.push({ level, msg, obj });
  return { lines, info: at("info"), warn: at("warn"), error: at("error") };
}

/** The kernel's view of a process: "T" when stopped by SIGSTOP, "S"/"R" when running. */
export function procState(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
  } catch {
    return undefined;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

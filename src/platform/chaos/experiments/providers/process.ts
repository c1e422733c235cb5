import { spawn } from "node:child_process";
import type { ProcessProvider } from "../types.ts";

export interface ProcessOutput {
  status: number | null;
  stdout: string;
  stderr: string;
}

function argv(args: ProcessProvider["arguments"]): string[] {
  if (args === undefined) return [];
  if (typeof args === "string") return args.split(" ").filter(Boolean);
  if (Array.isArray(args)) return args;
  return Object.entries(args).flatMap(([k, v]) => (v === true ? [`--${k}`] : [`--${k}`, String(v)]));
}

/** Chaos Toolkit's process provider: runs `path` without a shell; output `{status, stdout, stderr}`. */
export function runProcessProvider(provider: ProcessProvider, signal: AbortSignal): Promise<ProcessOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(provider.path, argv(provider.arguments), {
      signal,
      timeout: (provider.timeout ?? 30) * 1000,
      killSignal: "SIGKILL",
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
    });
    child.once("error", reject);
    child.once("close", (status, killedBy) => {
      if (killedBy === "SIGKILL" && status === null) {
        reject(new Error(`process ${provider.path} timed out after ${provider.timeout ?? 30} s`));
      } else {
        resolve({ status, stdout, stderr });
      }
    });
  });
}

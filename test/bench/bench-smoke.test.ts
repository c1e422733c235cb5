// Every bench, in a tiny configuration, runs to completion and prints well-formed result lines. This measures
// nothing (the figures come from `npm run bench` runs, docs/BENCHMARKS.md); it catches a bench that no longer
// finishes, such as the analytics raw-log anchor that hung and the cache bench whose answers check failed,
// each unnoticed for sessions because no test ran them.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { serviceAvailable } from "../support/services.ts";

const RUN = fileURLToPath(new URL("../../bench/run.ts", import.meta.url));
const DEADLINE_MS = 120_000;

interface Line {
  bench: string;
  case: string;
  metric: string;
  value: number;
  unit: string;
  better: string;
  anchor?: string;
  anchorValue?: number;
  ratio?: number;
}

/** Runs `npm run bench -- <args>`'s script; resolves with its exit code and its stdout lines, killed at the deadline. */
function bench(args: string[]): Promise<{ code: number | null; lines: string[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), DEADLINE_MS);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({
        code,
        lines: stdout.split("\n").filter((l) => l.trim() !== ""),
        stderr: stderr.slice(-2_000),
      });
    });
  });
}

function expectWellFormed(name: string, lines: string[]): void {
  expect(lines.length).toBeGreaterThan(0);
  for (const text of lines) {
    const line = JSON.parse(text) as Line;
    expect(line.bench).toBe(name);
    expect(typeof line.case).toBe("string");
    expect(typeof line.metric).toBe("string");
    expect(typeof line.unit).toBe("string");
    expect(["higher", "lower"]).toContain(line.better);
    expect(Number.isFinite(line.value)).toBe(true);
    if (line.anchorValue !== undefined || line.ratio !== undefined) {
      expect(typeof line.anchor).toBe("string");
      expect(Number.isFinite(line.anchorValue)).toBe(true);
      // > 1 when Bulwark is better, whichever way the metric points.
      const expected =
        line.better === "higher" ? line.value / line.anchorValue! : line.anchorValue! / line.value;
      expect(line.ratio).toBeCloseTo(expected, 1);
    }
  }
}

const distributed =
  (await serviceAvailable("postgres")) &&
  (await serviceAvailable("nats")) &&
  (await serviceAvailable("redis"));

const cases: Array<{ name: string; args: string[]; needsServers?: boolean }> = [
  { name: "cache", args: ["--trades", "20000", "--symbols", "10", "--requests", "50", "--rounds", "1"] },
  {
    name: "analytics",
    args: [
      "codec",
      "e2e-embedded",
      "e2e-jetstream",
      "--e2e-trades",
      "100000",
      "--runs",
      "1",
      "--trades",
      "200000",
    ],
    needsServers: true,
  },
  { name: "banking-ledger", args: ["--quick"], needsServers: true },
  { name: "commerce", args: ["--quick", "--runs=1", "--case=saga"], needsServers: true },
  { name: "resilience", args: ["--rounds", "1", "--calls", "2000", "--only", "success"] },
  { name: "messaging", args: ["--quick"], needsServers: true },
];

describe("benches run to completion", () => {
  for (const c of cases) {
    it.skipIf(c.needsServers && !distributed)(
      `${c.name} ${c.args.join(" ")}`,
      async () => {
        const { code, lines, stderr } = await bench([c.name, ...c.args]);
        expect(code, stderr).toBe(0);
        expectWellFormed(c.name, lines);
      },
      DEADLINE_MS + 10_000,
    );
  }
});

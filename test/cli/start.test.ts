import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { eventually } from "../support/services.ts";

const bin = new URL("../../bin/bulwark.js", import.meta.url).pathname;

function startBulwark(args: string[], env: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "bulwark-start-"));
  const child = spawn(process.execPath, [bin, "start", "--port", "0", ...args], {
    env: {
      ...process.env,
      BULWARK_DATA_DIR: dataDir,
      BULWARK_LOG_LEVEL: "warn",
      BULWARK_COMMERCE_PORTS_ORDER: "0",
      BULWARK_COMMERCE_PORTS_INVENTORY: "0",
      BULWARK_COMMERCE_PORTS_PAYMENT: "0",
      BULWARK_COMMERCE_PORTS_GATEWAY: "0",
      BULWARK_BANKING_PORTS_AUTH: "0",
      BULWARK_BANKING_PORTS_ACCOUNTS: "0",
      BULWARK_BANKING_PORTS_HISTORY: "0",
      BULWARK_BANKING_PORTS_MOBILE: "0",
      BULWARK_BANKING_PORTS_GATEWAY: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const exited = new Promise<number | string | null>((resolve) =>
    // A signal name instead of a code says the process died of it (a crash, or an unhandled signal).
    child.on("exit", (code, signal) => resolve(code ?? signal)),
  );
  return { child, exited, out: () => stdout, err: () => stderr };
}

async function consoleUrl(proc: ReturnType<typeof startBulwark>): Promise<string> {
  return eventually(() => /console\s+(http:\/\/\S+)/.exec(proc.out())?.[1], {
    timeoutMs: 15_000,
    message: "the start banner",
  });
}

async function stopWith(
  child: ChildProcess,
  signal: NodeJS.Signals,
  exited: Promise<number | string | null>,
) {
  child.kill(signal);
  return exited;
}

describe("bulwark start", () => {
  it("becomes ready within 15 s, serves metrics, and exits 0 on SIGTERM", async () => {
    const proc = startBulwark([], {
      BULWARK_ADMIN_TOKEN: "a".repeat(32),
      BULWARK_SHUTDOWN_READINESS_GRACE_MS: "0",
    });
    const t0 = Date.now();
    const url = await consoleUrl(proc);
    await eventually(async () => (await fetch(`${url}/health/ready`)).status === 200, {
      timeoutMs: 15_000,
      message: "readiness",
    });
    expect(Date.now() - t0).toBeLessThan(15_000);
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await metrics.text()).toContain("# TYPE http_request_duration_seconds histogram");
    const admin = await fetch(`${url}/admin/config`, {
      headers: { authorization: `Bearer ${"a".repeat(32)}` },
    });
    expect(admin.status).toBe(200);
    expect(((await admin.json()) as { admin: { token: string } }).admin.token).toBe("[redacted]");
    expect(await stopWith(proc.child, "SIGTERM", proc.exited)).toBe(0);
  });

  it("exits 0 on SIGINT (Ctrl-C) and prints a generated admin token when none is set", async () => {
    const proc = startBulwark([], { BULWARK_ADMIN_TOKEN: "", BULWARK_SHUTDOWN_READINESS_GRACE_MS: "0" });
    await consoleUrl(proc);
    expect(proc.out()).toMatch(/generated token .*: [\w-]{32}/);
    const code = await stopWith(proc.child, "SIGINT", proc.exited);
    expect(code, `stderr: ${proc.err().slice(-2_000)}`).toBe(0);
  });

  it("refuses to start on invalid configuration, with one message per bad field", async () => {
    const proc = startBulwark(["--profile", "cloud"], {
      BULWARK_LOG_LEVEL: "loud",
      BULWARK_HTTP_BODY_LIMIT_BYTES: "x",
    });
    expect(await proc.exited).toBe(78);
    const err = proc.err();
    expect(err).toMatch(/invalid configuration \(3 problems\)/);
    expect(err).toMatch(
      /- profile: must be one of "embedded", "distributed" \(got "cloud"\) \[from overrides\]/,
    );
    expect(err).toMatch(/- log.level: .*\[from BULWARK_LOG_LEVEL\]/);
    expect(err).toMatch(/- http.bodyLimitBytes: .*\[from BULWARK_HTTP_BODY_LIMIT_BYTES\]/);
  });

  it("rejects unknown flags with usage and exit 2", async () => {
    const proc = startBulwark(["--frobnicate"]);
    expect(await proc.exited).toBe(2);
    expect(proc.err()).toMatch(/usage: bulwark start/);
  });
});

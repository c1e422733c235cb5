import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import type { CliContext } from "../../../src/cli/command.ts";
import chaos from "../../../src/cli/commands/chaos.ts";
import status from "../../../src/cli/commands/status.ts";
import up, { upCommand } from "../../../src/cli/commands/up.ts";
import type { Journal } from "../../../src/platform/chaos/index.ts";
import { eventually } from "../../support/services.ts";
import { fixtureSpec } from "./helpers.ts";

function context(signal = new AbortController().signal, env: NodeJS.ProcessEnv = {}) {
  let out = "";
  const stdout = new Writable({
    write(chunk, _enc, done) {
      out += chunk;
      done();
    },
  });
  const ctx: CliContext = { stdout, stderr: stdout, env, signal };
  return { ctx, output: () => out };
}

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("bulwark up / status / chaos run", () => {
  it("supervises a spec list, shows it in status, survives an experiment's kill, and stops on Ctrl-C", async () => {
    dir = await mkdtemp(join(tmpdir(), "bwk-up-"));
    const stateFile = join(dir, "supervisor.json");
    const specPath = join(dir, "processes.json");
    const spec = await fixtureSpec("auth-1", "ok", "auth");
    await writeFile(specPath, JSON.stringify({ processes: [spec] }));

    const stop = new AbortController();
    const upCtx = context(stop.signal);
    const running = up.run(["--spec", specPath, "--state-file", stateFile, "--enable-faults"], upCtx.ctx);
    await eventually(() => existsSync(stateFile), { message: "state file" });

    await eventually(
      async () => {
        const c = context();
        expect(await status.run(["--state-file", stateFile], c.ctx)).toBe(0);
        return /auth-1\s+auth\s+running\s+yes/.test(c.output());
      },
      { message: "auth-1 running and ready in `bulwark status`" },
    );

    const experimentPath = join(dir, "auth-kill.yaml");
    await writeFile(
      experimentPath,
      [
        "title: auth survives a kill",
        "description: the supervisor brings a killed auth instance back",
        "configuration:",
        `  live: ${spec.livenessUrl}`,
        "steady-state-hypothesis:",
        "  title: auth answers",
        "  probes:",
        "    - type: probe",
        "      name: auth-live",
        "      tolerance: 200",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a Chaos Toolkit configuration reference, resolved by the runner
        "      provider: { type: http, url: '${live}', timeout: 10 }",
        "method:",
        "  - type: action",
        "    name: kill-auth",
        "    provider: { type: bulwark, func: bulwark.supervisor.kill, arguments: { service: auth } }",
        "  - type: probe",
        "    name: auth-back",
        "    provider: { type: bulwark, func: bulwark.supervisor.wait_until_ready, arguments: { service: auth, timeout: 20 } }",
        "rollbacks: []",
      ].join("\n"),
    );
    const journalPath = join(dir, "auth-kill.journal.json");
    const runCtx = context();
    const code = await chaos.run(
      ["run", experimentPath, "--journal", journalPath, "--state-file", stateFile, "--enable"],
      runCtx.ctx,
    );
    const journal = JSON.parse(await readFile(journalPath, "utf8")) as Journal;
    expect(journal.run[0]).toMatchObject({
      status: "succeeded",
      output: { action: "kill", process: "auth-1" },
    });
    expect(journal.run[1]).toMatchObject({ status: "succeeded", output: { ready: true } });
    expect(journal).toMatchObject({ status: "completed", deviated: false });
    expect(code).toBe(0);
    expect(runCtx.output()).toContain("status: completed");

    const c = context();
    await status.run(["--state-file", stateFile, "--json"], c.ctx);
    expect(JSON.parse(c.output()).processes[0]).toMatchObject({ name: "auth-1", restarts: 1 });

    stop.abort();
    expect(await running).toBe(0);
    expect(existsSync(stateFile)).toBe(false);
    expect(upCtx.output()).toContain("restarting after backoff");
  });

  it("refuses to run an experiment unless fault mode is on", async () => {
    const c = context();
    await expect(chaos.run(["run", "whatever.yaml"], c.ctx)).rejects.toThrow(/fault mode is off/);
  });

  it("refuses to start without processes", async () => {
    // The app's own list is the default; an empty provider stands for a system with nothing to run.
    await expect(upCommand(() => []).run([], context().ctx)).rejects.toThrow(/--spec/);
  });
});

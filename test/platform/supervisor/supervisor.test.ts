import { afterEach, describe, expect, it } from "vitest";
import { seededRandom } from "../../../src/platform/random/index.ts";
import {
  isSupervisorError,
  type RestartReason,
  Supervisor,
  type SupervisorOptions,
} from "../../../src/platform/supervisor/index.ts";
import { eventually } from "../../support/services.ts";
import { alive, fixtureSpec, memoryLogger, procState } from "./helpers.ts";

let supervisor: Supervisor | undefined;
afterEach(async () => {
  await supervisor?.stop();
  supervisor = undefined;
});

function supervise(options: SupervisorOptions): Supervisor {
  supervisor = new Supervisor({ probeIntervalMs: 100, restartBackoff: { initialMs: 50 }, ...options });
  supervisor.start();
  return supervisor;
}

const statusOf = (s: Supervisor, name: string) => s.status().find((p) => p.name === name)!;

async function readyPid(s: Supervisor, name: string, notPid?: number): Promise<number> {
  return eventually(
    () => {
      const st = statusOf(s, name);
      return st.ready && st.pid !== notPid ? st.pid : undefined;
    },
    { timeoutMs: 10_000, message: `${name} ready` },
  );
}

describe("Supervisor", () => {
  it("starts every process, reports status, and stops them", async () => {
    const s = supervise({ processes: [await fixtureSpec("a"), await fixtureSpec("b")] });
    const pidA = await readyPid(s, "a");
    await readyPid(s, "b");
    expect(statusOf(s, "a")).toMatchObject({ state: "running", service: "svc", restarts: 0, ready: true });
    expect(statusOf(s, "a").uptimeMs).toBeGreaterThanOrEqual(0);
    await s.stop();
    expect(s.status().map((p) => p.state)).toEqual(["stopped", "stopped"]);
    expect(alive(pidA)).toBe(false);
  });

  it("restarts a SIGKILLed process, which is ready again within 5 s, and logs it", async () => {
    const logger = memoryLogger();
    const s = supervise({ processes: [await fixtureSpec("pay")], logger });
    const pid = await readyPid(s, "pay");
    const killedAt = performance.now();
    expect(await s.kill("pay")).toBe("pay");
    const newPid = await readyPid(s, "pay", pid);
    expect(performance.now() - killedAt).toBeLessThan(5_000);
    expect(newPid).not.toBe(pid);
    expect(statusOf(s, "pay")).toMatchObject({ restarts: 1, lastExit: { signal: "SIGKILL" } });
    expect(logger.lines.some((l) => l.level === "warn" && l.msg.includes("restarting after backoff"))).toBe(
      true,
    );
  });

  it("backs off exponentially while a process keeps crashing", async () => {
    const delays: number[] = [];
    const s = new Supervisor({
      processes: [await fixtureSpec("loop", "crash")],
      restartBackoff: { initialMs: 40, factor: 2, maxMs: 1_000 },
    });
    supervisor = s;
    s.on("restart", (e) => delays.push(e.delayMs));
    s.start();
    await eventually(() => delays.length >= 4, { message: "four restarts" });
    expect(delays.slice(0, 4)).toEqual([40, 80, 160, 320]);
    expect(statusOf(s, "loop").lastExit?.code).toBe(3);
  });

  it("restarts a process whose liveness probe fails K times in a row", async () => {
    const reasons: RestartReason[] = [];
    const s = supervise({
      processes: [await fixtureSpec("sick", "sick")],
      livenessFailureThreshold: 2,
      startupGraceMs: 0,
    });
    s.on("restart", (e) => reasons.push(e.reason));
    const pid = await eventually(() => statusOf(s, "sick").pid, { message: "sick started" });
    await eventually(() => reasons.includes("liveness"), { message: "liveness restart" });
    await eventually(() => statusOf(s, "sick").pid !== pid && statusOf(s, "sick").pid, {
      message: "new pid",
    });
    expect(alive(pid)).toBe(false);
  });

  it("pauses with SIGSTOP and resumes with SIGCONT", async () => {
    const spec = await fixtureSpec("p");
    const s = supervise({ processes: [spec] });
    const pid = await readyPid(s, "p");
    s.pause("p");
    expect(statusOf(s, "p").state).toBe("paused");
    await eventually(() => procState(pid) === "T", { message: "kernel stopped state" });
    const hung = await fetch(spec.livenessUrl!, { signal: AbortSignal.timeout(300) }).then(
      () => "answered",
      () => "hung",
    );
    expect(hung).toBe("hung");
    s.resume("p");
    expect(statusOf(s, "p").state).toBe("running");
    await eventually(() => procState(pid) !== "T", { message: "running again" });
    expect((await fetch(spec.livenessUrl!)).status).toBe(200);
  });

  it("restarts on request with a new pid", async () => {
    const reasons: RestartReason[] = [];
    const s = supervise({ processes: [await fixtureSpec("r")] });
    s.on("restart", (e) => reasons.push(e.reason));
    const pid = await readyPid(s, "r");
    await s.restart("r");
    const newPid = await readyPid(s, "r", pid);
    expect(newPid).not.toBe(pid);
    expect(reasons).toEqual(["requested"]);
    expect(statusOf(s, "r").lastExit).toMatchObject({ code: 0 });
  });

  it("targets a random instance of a service, reproducibly from a seed", async () => {
    const processes = [
      await fixtureSpec("w-1", "ok", "worker"),
      await fixtureSpec("w-2", "ok", "worker"),
      await fixtureSpec("w-3", "ok", "worker"),
      await fixtureSpec("other", "ok", "other"),
    ];
    const s = supervise({ processes, seed: 7 });
    for (const p of processes) await readyPid(s, p.name);
    const expected = seededRandom(7);
    const paused = s.pause({ service: "worker", random: true });
    expect(paused).toBe(`w-${Math.floor(expected() * 3) + 1}`);
    expect(statusOf(s, paused).state).toBe("paused");
    s.resume(paused);
    let caught: unknown;
    try {
      await s.kill({ service: "nope", random: true });
    } catch (e) {
      caught = e;
    }
    expect(isSupervisorError(caught) && caught.code).toBe("BWK_ERR_SUPERVISOR_UNKNOWN_TARGET");
  });

  it("SIGKILLs a process that ignores SIGTERM after the grace period", async () => {
    const s = supervise({ processes: [await fixtureSpec("stubborn", "stubborn")], stopGraceMs: 300 });
    await readyPid(s, "stubborn");
    const t0 = performance.now();
    await s.stop();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    expect(statusOf(s, "stubborn")).toMatchObject({ state: "stopped", lastExit: { signal: "SIGKILL" } });
  });
});

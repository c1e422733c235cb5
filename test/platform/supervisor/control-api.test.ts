import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import {
  createControlApi,
  isSupervisorError,
  readStateFile,
  Supervisor,
  SupervisorClient,
  writeStateFile,
} from "../../../src/platform/supervisor/index.ts";
import { eventually } from "../../support/services.ts";
import { fixtureSpec } from "./helpers.ts";

const token = "control-token-0123456789";
let supervisor: Supervisor | undefined;
let api: FastifyInstance | undefined;
let dir: string | undefined;

afterEach(async () => {
  await api?.close();
  await supervisor?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  api = supervisor = dir = undefined;
});

describe("supervisor control API", () => {
  it("serves status and faults to a client found through the 0600 state file", async () => {
    supervisor = new Supervisor({
      processes: [await fixtureSpec("pay-1", "ok", "pay")],
      probeIntervalMs: 100,
    });
    supervisor.start();
    api = createControlApi({ supervisor, token, faultsEnabled: true });
    const url = await api.listen({ host: "127.0.0.1", port: 0 });
    dir = await mkdtemp(join(tmpdir(), "bwk-sup-"));
    const path = join(dir, "supervisor.json");
    await writeStateFile(path, { url, token, pid: process.pid, startedAt: new Date().toISOString() });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readStateFile(path)).url).toBe(url);

    const client = await SupervisorClient.fromStateFile(path);
    const pid = await eventually(async () => {
      const [p] = (await client.status()).processes;
      return p?.ready ? p.pid : undefined;
    });
    const result = await client.fault("kill", { service: "pay", random: true });
    expect(result).toMatchObject({ action: "kill", process: "pay-1" });
    await eventually(async () => {
      const [p] = (await client.status()).processes;
      return p?.ready && p.pid !== pid && p.restarts === 1;
    });

    let caught: unknown;
    try {
      await client.fault("pause", "nope");
    } catch (e) {
      caught = e;
    }
    expect(isSupervisorError(caught) && caught.code).toBe("BWK_ERR_SUPERVISOR_UNKNOWN_TARGET");
  });

  it("rejects requests without the token, and bad fault bodies naming the field", async () => {
    supervisor = new Supervisor({ processes: [] });
    api = createControlApi({ supervisor, token, faultsEnabled: true });
    const anonymous = await api.inject({ method: "GET", url: "/status" });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers["content-type"]).toContain("application/problem+json");
    expect(anonymous.headers["www-authenticate"]).toBe('Bearer realm="supervisor"');
    const bad = await api.inject({
      method: "POST",
      url: "/faults",
      headers: { authorization: `Bearer ${token}` },
      payload: { action: "explode", target: "x" },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe("action");
  });

  it("refuses process faults unless fault mode is on, but still serves status", async () => {
    supervisor = new Supervisor({ processes: [] });
    api = createControlApi({ supervisor, token, faultsEnabled: false });
    const headers = { authorization: `Bearer ${token}` };
    expect((await api.inject({ method: "GET", url: "/status", headers })).json()).toMatchObject({
      processes: [],
    });
    const refused = await api.inject({
      method: "POST",
      url: "/faults",
      headers,
      payload: { action: "kill", target: "x" },
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().type).toContain("chaos-disabled");
  });
});

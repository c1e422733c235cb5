import { Writable } from "node:stream";
import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import {
  builtinFunctions,
  createFaultProxyApi,
  type Experiment,
  FailureFlagStore,
  FaultProxyClient,
  FaultProxyServer,
  failureFlagsAdminRoutes,
  failureFlagsPlugin,
  runExperiment,
} from "../../../src/platform/chaos/index.ts";
import { createService, type Service } from "../../../src/platform/http/index.ts";
import { createLogger } from "../../../src/platform/observability/index.ts";
import { Supervisor } from "../../../src/platform/supervisor/index.ts";
import { eventually } from "../../support/services.ts";
import { fixtureSpec } from "../supervisor/helpers.ts";

const token = "admin-token-0123456789";
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function gateway(): Promise<string> {
  const app: FastifyInstance = Fastify();
  app.get("/pay", async () => ({ ok: true }));
  cleanups.push(() => app.close());
  return app.listen({ port: 0, host: "127.0.0.1" });
}

const measure = (url: string) => ({
  type: "probe" as const,
  name: "payments are fast",
  tolerance: { type: "range" as const, range: [0, 600] as [number, number], target: "p50_ms" },
  provider: { type: "bulwark" as const, func: "bulwark.http.measure", arguments: { url, requests: 3 } },
});

describe("built-in experiment functions", () => {
  it("adds a toxic through the proxy API, sees the deviation, and the rollback removes it", async () => {
    const upstream = new URL(await gateway());
    const server = new FaultProxyServer();
    cleanups.push(() => server.close());
    const proxy = await server.createProxy({ name: "gateway", upstream: upstream.host });
    const api = createFaultProxyApi({ server, enabled: true, token });
    cleanups.push(() => api.close());
    const client = new FaultProxyClient({ url: await api.listen({ port: 0, host: "127.0.0.1" }), token });
    const viaProxy = `http://${proxy.listen}/pay`;

    const experiment: Experiment = {
      title: "payment gateway latency",
      description: "checkout stays fast when the gateway slows down",
      "steady-state-hypothesis": { title: "fast", probes: [measure(viaProxy)] },
      method: [
        {
          type: "action",
          name: "slow gateway",
          provider: {
            type: "bulwark",
            func: "bulwark.proxy.add_toxic",
            arguments: { proxy: "gateway", name: "slow", type: "latency", attributes: { latency: 1_500 } },
          },
        },
      ],
      rollbacks: [
        {
          type: "action",
          name: "heal gateway",
          provider: {
            type: "python",
            module: "bulwark.proxy",
            func: "remove_toxic",
            arguments: { proxy: "gateway", name: "slow" },
          },
        },
      ],
    };
    const journal = await runExperiment(experiment, { functions: builtinFunctions({ proxy: client }) });
    expect(journal.steady_states.before?.steady_state_met).toBe(true);
    expect(journal.run[0]).toMatchObject({ status: "succeeded", output: { name: "slow", type: "latency" } });
    expect(journal).toMatchObject({ status: "failed", deviated: true });
    const after = journal.steady_states.after?.probes[0]?.output as { p50_ms: number } | undefined;
    expect(after?.p50_ms).toBeGreaterThanOrEqual(1_495);
    expect(journal.rollbacks[0]).toMatchObject({ status: "succeeded" });
    expect(server.listToxics("gateway")).toEqual([]);
  });

  it("kills a random instance of a service under the supervisor", async () => {
    const supervisor = new Supervisor({
      processes: [await fixtureSpec("auth-1", "ok", "auth")],
      probeIntervalMs: 100,
      restartBackoff: { initialMs: 50 },
    });
    supervisor.start();
    cleanups.push(() => supervisor.stop());
    const pid = await eventually(() => supervisor.status()[0]?.ready && supervisor.status()[0]?.pid);
    const fns = builtinFunctions({ supervisor });
    expect(
      await fns["bulwark.supervisor.kill"]!(
        { service: "auth" },
        { signal: new AbortController().signal, clock: undefined as never },
      ),
    ).toBe("auth-1");
    await eventually(() => supervisor.status()[0]?.ready && supervisor.status()[0]?.pid !== pid, {
      message: "auth-1 back",
    });
  });

  it("sets failure flags through a service kit's token-protected admin API", async () => {
    const silent = new Writable({ write: (_c, _e, done) => done() });
    const store = new FailureFlagStore({ enabled: true });
    const service: Service = createService({
      name: "checkout",
      logger: createLogger({ destination: silent }),
      admin: { enabled: true, token },
    });
    // The kit reads its admin plugins when the app loads, so register them before awaiting anything.
    service.registerAdmin(async (admin) => {
      await admin.register(failureFlagsAdminRoutes({ store }), { prefix: "/chaos" });
    });
    await service.app.register(failureFlagsPlugin({ store }));
    service.app.get("/orders", async () => []);
    const base = await service.listen();
    cleanups.push(() => service.stop());
    const fns = builtinFunctions({ adminToken: token });
    const ctx = { signal: new AbortController().signal, clock: undefined as never };
    await fns["bulwark.flags.set"]!(
      {
        url: base,
        id: "orders-down",
        route: "/orders",
        method: "GET",
        fault: { kind: "error", status: 503 },
      },
      ctx,
    );
    expect((await fetch(`${base}/orders`)).status).toBe(503);
    await fns["bulwark.flags.clear"]!({ url: base }, ctx);
    expect((await fetch(`${base}/orders`)).status).toBe(200);
    await expect(
      builtinFunctions({ adminToken: "wrong-token-0123456789" })["bulwark.flags.clear"]!({ url: base }, ctx),
    ).rejects.toThrow(/401/);
  });
});

import { request as httpRequest } from "node:http";
import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import {
  FailureFlagStore,
  failureFlagsAdminRoutes,
  failureFlagsPlugin,
  isChaosError,
} from "../../../src/platform/chaos/index.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";
import { eventually } from "../../support/services.ts";

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function service(store: FailureFlagStore, clock = new FakeClock()): Promise<FastifyInstance> {
  app = Fastify();
  await app.register(failureFlagsPlugin({ store, clock }));
  await app.register(
    async (scope) => {
      scope.get("/orders/:id", async (request) => ({ id: (request.params as { id: string }).id }));
      scope.post("/orders/:id", async () => ({ posted: true }));
      scope.get("/health", async () => ({ ok: true }));
    },
    { prefix: "/api" },
  );
  await app.register(failureFlagsAdminRoutes({ store }), { prefix: "/admin/chaos" });
  return app;
}

const get = (a: FastifyInstance, url = "/api/orders/7") => a.inject({ method: "GET", url });

describe("failure flags", () => {
  it("delay: holds the request for the flag's time on the clock", async () => {
    const clock = new FakeClock();
    const store = new FailureFlagStore({ enabled: true });
    const a = await service(store, clock);
    store.set("slow", { route: "/api/orders/:id", method: "GET", fault: { kind: "delay", ms: 500 } });
    let done = false;
    const pending = get(a).then((res) => {
      done = true;
      return res;
    });
    // inject() reaches the hook a few event-loop turns later; wait until the delay is armed.
    await eventually(() => clock.pending > 0, { message: "the delay timer" });
    await clock.advance(499);
    expect(done).toBe(false);
    await clock.advance(1);
    const res = await pending;
    expect(done).toBe(true);
    expect(res.statusCode).toBe(200);
  });

  it("error: answers with the status as problem+json, only on the flagged route and method", async () => {
    const store = new FailureFlagStore({ enabled: true });
    const a = await service(store);
    store.set("boom", { route: "/api/orders/:id", method: "get", fault: { kind: "error", status: 502 } });
    const res = await get(a);
    expect(res.statusCode).toBe(502);
    expect(res.headers["content-type"]).toContain("application/problem+json");
    expect(res.json()).toMatchObject({ status: 502, title: "Injected fault" });
    expect((await a.inject({ method: "POST", url: "/api/orders/7" })).statusCode).toBe(200);
    expect((await get(a, "/api/health")).statusCode).toBe(200);
  });

  it("fail_first: fails exactly the first N matching requests", async () => {
    const store = new FailureFlagStore({ enabled: true });
    const a = await service(store);
    store.set("warmup", { route: "/api/*", fault: { kind: "fail_first", count: 2, status: 503 } });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(a)).statusCode);
    expect(statuses).toEqual([503, 503, 200, 200]);
    expect(store.get("warmup")).toMatchObject({ hits: 2, remaining: 0 });
  });

  it("abort: destroys the connection without an answer", async () => {
    const store = new FailureFlagStore({ enabled: true });
    const a = await service(store);
    store.set("cut", { route: "*", method: "GET", fault: { kind: "abort" } });
    await a.listen({ port: 0, host: "127.0.0.1" });
    const { port } = a.server.address() as { port: number };
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest({ port, host: "127.0.0.1", path: "/api/orders/1" }, (res) =>
        resolve(`status ${res.statusCode}`),
      );
      req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      req.end();
    });
    expect(outcome).toBe("ECONNRESET");
  });

  it("probability: hits only the requests the random source selects", async () => {
    const rolls = [0.1, 0.9, 0.2, 0.8, 0.3, 0.7];
    const store = new FailureFlagStore({ enabled: true, random: () => rolls.shift() ?? 1 });
    const a = await service(store);
    store.set("half", { route: "*", probability: 0.5, fault: { kind: "error", status: 500 } });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await get(a)).statusCode);
    expect(statuses).toEqual([500, 200, 500, 200, 500, 200]);
  });

  it("is inert while fault mode is off", async () => {
    const store = new FailureFlagStore({ enabled: false });
    let caught: unknown;
    try {
      store.set("x", { route: "*", fault: { kind: "abort" } });
    } catch (e) {
      caught = e;
    }
    expect(isChaosError(caught) && caught.code).toBe("BWK_ERR_CHAOS_DISABLED");
    const a = await service(store);
    const res = await a.inject({
      method: "PUT",
      url: "/admin/chaos/flags/x",
      payload: { route: "*", fault: { kind: "abort" } },
    });
    expect(res.statusCode).toBe(403);
  });

  it("admin routes set, list and delete flags at run time, naming bad fields", async () => {
    const store = new FailureFlagStore({ enabled: true });
    const a = await service(store);
    const put = await a.inject({
      method: "PUT",
      url: "/admin/chaos/flags/pay",
      payload: { route: "/api/orders/:id", method: "GET", fault: { kind: "error", status: 503 } },
    });
    expect(put.statusCode).toBe(200);
    expect((await get(a)).statusCode).toBe(503);
    const listed = (await a.inject({ method: "GET", url: "/admin/chaos/flags" })).json();
    expect(listed.flags.map((f: { id: string }) => f.id)).toEqual(["pay"]);

    const bad = await a.inject({
      method: "PUT",
      url: "/admin/chaos/flags/bad",
      payload: { route: "/x", fault: { kind: "error", status: 200 } },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers["content-type"]).toContain("application/problem+json");
    expect(bad.json().errors[0].field).toBe("fault.status");
    const badKind = await a.inject({
      method: "PUT",
      url: "/admin/chaos/flags/bad",
      payload: { route: "/x", fault: { kind: "melt" } },
    });
    expect(badKind.json().errors[0].field).toBe("fault.kind");

    expect((await a.inject({ method: "DELETE", url: "/admin/chaos/flags/pay" })).statusCode).toBe(204);
    expect((await get(a)).statusCode).toBe(200);
    expect((await a.inject({ method: "DELETE", url: "/admin/chaos/flags/pay" })).statusCode).toBe(404);
  });
});

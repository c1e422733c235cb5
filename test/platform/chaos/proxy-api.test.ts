import type { FastifyInstance } from "fastify";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  createFaultProxyApi,
  FaultProxyServer,
  isChaosError,
  type ProxyInfo,
} from "../../../src/platform/chaos/index.ts";
import { record, startEchoServer, type TestServer } from "./sockets.ts";

const token = "test-token-0123456789";
const auth = { authorization: `Bearer ${token}` };
let echo: TestServer;
let server: FaultProxyServer;
let api: FastifyInstance;

beforeAll(async () => {
  echo = await startEchoServer();
});
afterAll(() => echo.close());
beforeEach(() => {
  server = new FaultProxyServer();
  api = createFaultProxyApi({ server, enabled: true, token });
});
afterEach(async () => {
  await api.close();
  await server.close();
});

const call = (method: "GET" | "POST" | "PATCH" | "DELETE", url: string, payload?: unknown) =>
  api.inject({
    method,
    url,
    headers: auth,
    ...(payload === undefined ? {} : { payload: payload as object }),
  });

function portOf(info: ProxyInfo): number {
  return Number(info.listen.split(":").at(-1));
}

describe("fault proxy HTTP API (Toxiproxy shape)", () => {
  it("refuses to exist unless fault mode is enabled", () => {
    let caught: unknown;
    try {
      createFaultProxyApi({ server, enabled: false, token });
    } catch (e) {
      caught = e;
    }
    expect(isChaosError(caught) && caught.code).toBe("BWK_ERR_CHAOS_DISABLED");
  });

  it("requires the bearer token", async () => {
    const none = await api.inject({ method: "GET", url: "/proxies" });
    expect(none.statusCode).toBe(401);
    expect(none.headers["content-type"]).toContain("application/problem+json");
    expect(none.headers["www-authenticate"]).toBe('Bearer realm="chaos"');
    const wrong = await api.inject({
      method: "GET",
      url: "/proxies",
      headers: { authorization: "Bearer nope" },
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers["www-authenticate"]).toBe('Bearer realm="chaos"');
  });

  it("creates, lists, updates and deletes proxies", async () => {
    const created = await call("POST", "/proxies", { name: "db", upstream: `127.0.0.1:${echo.port}` });
    expect(created.statusCode).toBe(201);
    const proxy = created.json() as ProxyInfo;
    expect(proxy).toMatchObject({
      name: "db",
      enabled: true,
      upstream: `127.0.0.1:${echo.port}`,
      toxics: [],
    });
    expect(portOf(proxy)).toBeGreaterThan(0);

    expect((await call("POST", "/proxies", { name: "db", upstream: "127.0.0.1:1" })).statusCode).toBe(409);
    expect(Object.keys((await call("GET", "/proxies")).json())).toEqual(["db"]);

    const disabled = await call("PATCH", "/proxies/db", { enabled: false });
    expect(disabled.json()).toMatchObject({ enabled: false });
    await expect(record(portOf(proxy))).rejects.toMatchObject({ code: "ECONNREFUSED" });

    expect((await call("DELETE", "/proxies/db")).statusCode).toBe(204);
    expect((await call("GET", "/proxies/db")).statusCode).toBe(404);
  });

  it("populates a list of proxies", async () => {
    const res = await call("POST", "/populate", [
      { name: "a", upstream: `127.0.0.1:${echo.port}` },
      { name: "b", upstream: `127.0.0.1:${echo.port}`, enabled: false },
    ]);
    expect(res.statusCode).toBe(201);
    expect((res.json() as { proxies: ProxyInfo[] }).proxies.map((p) => [p.name, p.enabled])).toEqual([
      ["a", true],
      ["b", false],
    ]);
  });

  it("adds, reads, updates and removes toxics", async () => {
    await call("POST", "/proxies", { name: "db", upstream: `127.0.0.1:${echo.port}` });
    const added = await call("POST", "/proxies/db/toxics", { type: "latency", attributes: { latency: 100 } });
    expect(added.statusCode).toBe(200);
    expect(added.json()).toEqual({
      name: "latency_downstream",
      type: "latency",
      stream: "downstream",
      toxicity: 1,
      attributes: { latency: 100, jitter: 0 },
    });
    const patched = await call("PATCH", "/proxies/db/toxics/latency_downstream", {
      attributes: { jitter: 10 },
    });
    expect(patched.json()).toMatchObject({ attributes: { latency: 100, jitter: 10 } });
    expect((await call("GET", "/proxies/db/toxics")).json()).toHaveLength(1);
    expect((await call("DELETE", "/proxies/db/toxics/latency_downstream")).statusCode).toBe(204);
    expect((await call("GET", "/proxies/db/toxics/latency_downstream")).statusCode).toBe(404);
  });

  it("answers bad input with 400 problem+json naming the field", async () => {
    await call("POST", "/proxies", { name: "db", upstream: `127.0.0.1:${echo.port}` });
    const badProxy = await call("POST", "/proxies", { name: "x" });
    expect(badProxy.statusCode).toBe(400);
    expect(badProxy.headers["content-type"]).toContain("application/problem+json");
    expect(badProxy.json()).toMatchObject({
      status: 400,
      title: expect.any(String),
      detail: expect.any(String),
    });
    expect(badProxy.json().errors.map((e: { field: string }) => e.field)).toContain("upstream");

    const badType = await call("POST", "/proxies/db/toxics", { type: "gremlins" });
    expect(badType.json().errors).toEqual([{ field: "type", message: expect.stringContaining("latency") }]);

    const badAttr = await call("POST", "/proxies/db/toxics", {
      type: "latency",
      attributes: { latency: -5 },
    });
    expect(badAttr.statusCode).toBe(400);
    expect(badAttr.json().errors[0].field).toBe("attributes.latency");

    const badToxicity = await call("POST", "/proxies/db/toxics", { type: "timeout", toxicity: 2 });
    expect(badToxicity.json().errors[0].field).toBe("toxicity");

    const slicer = await call("POST", "/proxies/db/toxics", {
      type: "slicer",
      attributes: { average_size: 10, size_variation: 10 },
    });
    expect(slicer.json().errors[0].field).toBe("attributes.size_variation");
  });

  it("POST /reset re-enables every proxy and removes every toxic", async () => {
    const proxy = (await call("POST", "/proxies", { name: "db", upstream: `127.0.0.1:${echo.port}` })).json();
    await call("POST", "/proxies/db/toxics", { type: "timeout", attributes: { timeout: 0 } });
    const held = await record(portOf(proxy));
    held.socket.write("x");
    await call("PATCH", "/proxies/db", { enabled: false });
    expect((await call("POST", "/reset")).statusCode).toBe(204);
    expect((await call("GET", "/proxies/db")).json()).toMatchObject({ enabled: true, toxics: [] });
    const client = await record(portOf(proxy));
    client.socket.write("back");
    await client.waitForBytes(4);
    expect(client.text()).toBe("back");
    client.socket.destroy();
    // Disabling dropped the connection that was held open.
    expect((await held.closed).at).toBeGreaterThan(0);
  });

  it("changes toxics on live connections without losing data", async () => {
    const proxy = await server.createProxy({ name: "live", upstream: `127.0.0.1:${echo.port}` });
    const client = await record(portOf(proxy));
    client.socket.write("one");
    await client.waitForBytes(3);
    await server.addToxic("live", { type: "latency", attributes: { latency: 200 } });
    const sentAt = performance.now();
    client.socket.write("two");
    const at = await client.waitForBytes(6);
    expect(at - sentAt).toBeGreaterThanOrEqual(195);
    await server.removeToxic("live", "latency_downstream");
    client.socket.write("three");
    await client.waitForBytes(11);
    expect(client.text()).toBe("onetwothree");
    client.socket.destroy();
  });
});

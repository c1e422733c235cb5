import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { loadShedPlugin } from "../../../src/platform/resilience/index.ts";
import { eventually } from "../../support/services.ts";

describe("loadShedPlugin", () => {
  it("answers 503 with Retry-After while the lag is over the limit, and serves again when it falls", async () => {
    let lag = 500;
    const app = Fastify();
    app.register(loadShedPlugin, { maxLagMs: 100, sampleMs: 10, retryAfterSeconds: 2, lagProbe: () => lag });
    app.get("/", async () => "ok");
    app.get("/health", async () => "up");
    await app.ready();
    const shed = await app.inject({ url: "/" });
    expect(shed.statusCode).toBe(503);
    expect(shed.headers["retry-after"]).toBe("2");
    expect(shed.json()).toMatchObject({ status: 503, type: "https://bulwark.dev/problems/overloaded" });
    lag = 5;
    await eventually(async () => (await app.inject({ url: "/" })).statusCode === 200, {
      message: "recovery",
    });
    await app.close();
  });

  it("measures real event-loop lag: a blocked loop sheds the next requests", async () => {
    const app = Fastify();
    app.register(loadShedPlugin, { maxLagMs: 100, sampleMs: 100, skip: (r) => r.url === "/health" });
    app.get("/", async () => "ok");
    app.get("/health", async () => "up");
    await app.ready();
    expect((await app.inject({ url: "/" })).statusCode).toBe(200);
    const blockLoop = (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {} // block the event loop on purpose
    };
    // The delay monitor only measures from its first tick on, so keep blocking until a sample sees it.
    await eventually(
      async () => {
        blockLoop(250);
        return (await app.inject({ url: "/" })).statusCode === 503;
      },
      { timeoutMs: 10_000, message: "shedding while the loop is blocked" },
    );
    expect((await app.inject({ url: "/health" })).statusCode).toBe(200);
    await app.close();
  });
});

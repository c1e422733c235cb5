import { Writable } from "node:stream";
import { trace } from "@opentelemetry/api";
import { Type } from "@sinclair/typebox";
import { afterEach, describe, expect, it } from "vitest";
import { createService, HttpProblem, type Service } from "../../../src/platform/http/index.ts";
import { createLogger, setupTracing, tracedRequest } from "../../../src/platform/observability/index.ts";

const tracing = setupTracing({ serviceName: "test", exporter: "memory" });

function captureLogs() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { lines, logger: createLogger({ level: "info", destination }) };
}

const services: Service[] = [];
function build(extra: Partial<Parameters<typeof createService>[0]> = {}) {
  const { lines, logger } = captureLogs();
  const service = createService({ name: "demo", logger, shutdown: { readinessGraceMs: 0 }, ...extra });
  services.push(service);
  const OrderBody = Type.Object(
    {
      customerId: Type.String({ minLength: 1 }),
      items: Type.Array(Type.Object({ sku: Type.String(), qty: Type.Integer({ minimum: 1 }) }), {
        minItems: 1,
      }),
    },
    { additionalProperties: false },
  );
  service.app.post("/orders", { schema: { body: OrderBody } }, async (request) => ({
    traceId: trace.getActiveSpan()?.spanContext().traceId,
    items: request.body.items.length,
  }));
  service.app.get("/conflict", async () => {
    throw new HttpProblem(409, "conflict", "Already in flight", "try again later", { retryable: true });
  });
  service.app.get("/boom", async () => {
    throw new Error("database password is hunter2");
  });
  service.app.get("/internal", { config: { auth: "service" } }, async () => ({ ok: true }));
  return { service, lines };
}

afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
});

describe("service kit", () => {
  it("answers bad input with 400 problem+json naming each bad field", async () => {
    const { service } = build();
    const res = await service.app.inject({
      method: "POST",
      url: "/orders",
      payload: { customerId: "", items: [{ sku: "A", qty: 0 }], extra: 1 },
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    const body = res.json();
    expect(body).toMatchObject({ type: "https://bulwark.dev/problems/validation", status: 400 });
    const fields = body.errors.map((e: { field: string }) => e.field).sort();
    expect(fields).toEqual(["body.customerId", "body.extra", "body.items[0].qty"]);
  });

  it("names a missing required field and rejects malformed JSON and oversized bodies with 4xx", async () => {
    const { service } = build({ http: { bodyLimitBytes: 2048 } });
    const missing = await service.app.inject({ method: "POST", url: "/orders", payload: { items: [] } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors.map((e: { field: string }) => e.field)).toContain("body.customerId");

    const malformed = await service.app.inject({
      method: "POST",
      url: "/orders",
      headers: { "content-type": "application/json" },
      payload: "{ nope",
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.headers["content-type"]).toMatch(/problem\+json/);

    const huge = await service.app.inject({
      method: "POST",
      url: "/orders",
      payload: { customerId: "c", items: [{ sku: "x".repeat(5000), qty: 1 }] },
    });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().type).toBe("https://bulwark.dev/problems/payload-too-large");
  });

  it("renders thrown HttpProblems and hides internals of unexpected errors", async () => {
    const { service, lines } = build();
    const conflict = await service.app.inject({ url: "/conflict" });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json()).toMatchObject({
      title: "Already in flight",
      detail: "try again later",
      retryable: true,
    });

    const boom = await service.app.inject({ url: "/boom" });
    expect(boom.statusCode).toBe(500);
    expect(boom.body).not.toContain("hunter2");
    expect(boom.body).not.toContain("at ");
    expect(lines.some((l) => l.msg === "request failed")).toBe(true);

    const missing = await service.app.inject({ url: "/nowhere" });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers["content-type"]).toMatch(/problem\+json/);
  });

  it("continues an incoming W3C trace, echoes x-request-id, and runs the handler inside the request span", async () => {
    const { service, lines } = build();
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const res = await service.app.inject({
      method: "POST",
      url: "/orders",
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, "x-request-id": "req-123" },
      payload: { customerId: "c1", items: [{ sku: "A", qty: 1 }] },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().traceId).toBe(traceId);
    expect(res.headers["x-request-id"]).toBe("req-123");
    expect(res.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    const span = tracing.memory!.getFinishedSpans().find((s) => s.spanContext().traceId === traceId);
    expect(span?.name).toBe("POST /orders");
    expect(lines.some((l) => l.request_id === "req-123")).toBe(true);

    const generated = await service.app.inject({
      url: "/health/live",
      headers: { "x-request-id": "bad id!" },
    });
    expect(generated.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("serves RED metrics per route and process metrics in Prometheus text", async () => {
    const { service } = build();
    await service.app.inject({ url: "/boom" });
    await service.app.inject({
      method: "POST",
      url: "/orders",
      payload: { customerId: "c", items: [{ sku: "A", qty: 1 }] },
    });
    const res = await service.app.inject({ url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain/);
    expect(res.body).toMatch(
      /http_request_duration_seconds_count\{method="POST",route="\/orders",status_code="200"\} 1/,
    );
    expect(res.body).toMatch(/http_request_errors_total\{method="GET",route="\/boom",status_code="500"\} 1/);
    expect(res.body).toContain("process_cpu_user_seconds_total");
  });

  it("probes: startup and ready fail until listening; ready fails when a needed dependency fails", async () => {
    let dbUp = true;
    const { service } = build({
      readiness: {
        db: async () => {
          if (!dbUp) throw new Error("connection refused");
        },
      },
    });
    expect((await service.app.inject({ url: "/health/startup" })).statusCode).toBe(503);
    expect((await service.app.inject({ url: "/health/ready" })).statusCode).toBe(503);
    expect((await service.app.inject({ url: "/health/live" })).statusCode).toBe(200);
    await service.listen();
    expect((await service.app.inject({ url: "/health/startup" })).statusCode).toBe(200);
    const ready = await service.app.inject({ url: "/health/ready" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks.db.status).toBe("ok");
    dbUp = false;
    const notReady = await service.app.inject({ url: "/health/ready" });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json().checks.db).toMatchObject({ status: "failing", error: "connection refused" });
  });

  it("requires a service key on service routes when keys are configured", async () => {
    const key = "k".repeat(32);
    const { service } = build({ serviceKeys: [key] });
    expect((await service.app.inject({ url: "/internal" })).statusCode).toBe(401);
    expect(
      (await service.app.inject({ url: "/internal", headers: { "x-api-key": "wrong" } })).statusCode,
    ).toBe(401);
    expect((await service.app.inject({ url: "/internal", headers: { "x-api-key": key } })).statusCode).toBe(
      200,
    );
  });

  it("keeps admin routes off unless enabled, and behind the bearer token when on", async () => {
    const adminRoutes = async (scope: import("fastify").FastifyInstance) => {
      scope.get("/ping", async () => ({ pong: true }));
    };
    const off = build();
    off.service.registerAdmin(adminRoutes);
    expect((await off.service.app.inject({ url: "/admin/ping" })).statusCode).toBe(404);

    const token = "t".repeat(32);
    const on = build({ admin: { enabled: true, token } });
    on.service.registerAdmin(adminRoutes);
    const anonymous = await on.service.app.inject({ url: "/admin/ping" });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers["www-authenticate"]).toBe('Bearer realm="admin"');
    expect(
      (await on.service.app.inject({ url: "/admin/ping", headers: { authorization: "Bearer wrong" } }))
        .statusCode,
    ).toBe(401);
    const ok = await on.service.app.inject({
      url: "/admin/ping",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(ok.json()).toEqual({ pong: true });
    expect(() =>
      createService({ name: "x", logger: createLogger({ level: "silent" }), admin: { enabled: true } }),
    ).toThrow(/no admin token/);
  });

  it("redacts secrets and masks card numbers in logs", async () => {
    const { lines, logger } = captureLogs();
    logger.info(
      { payment: { cardNumber: "4242424242424242", token: "tok_1" }, password: "p" },
      "charging 4242 4242 4242 4242",
    );
    const line = lines[0]!;
    expect(JSON.stringify(line)).not.toContain("4242424242424242");
    expect(line.msg).toBe("charging ****4242");
    expect(line.payment).toEqual({ cardNumber: "[redacted]", token: "[redacted]" });
    expect(line.password).toBe("[redacted]");
  });
});

describe("graceful shutdown", () => {
  it("fails readiness at once, lets in-flight requests finish, then refuses new ones", async () => {
    const { service } = build({ shutdown: { readinessGraceMs: 50, drainTimeoutMs: 5_000 } });
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => {
      entered = r;
    });
    service.app.get("/slow", async () => {
      entered();
      await gate;
      return { done: true };
    });
    const base = await service.listen();
    const inflight = fetch(`${base}/slow`).then((r) => r.json());
    await inHandler;
    const stopped = service.stop();
    expect(service.draining).toBe(true);
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(503);
    release();
    expect(await inflight).toEqual({ done: true });
    await stopped;
    await expect(fetch(`${base}/health/live`)).rejects.toThrow();
  });

  it("bounds the drain: a request that never finishes is cut at the drain timeout", async () => {
    const { service } = build({ shutdown: { readinessGraceMs: 0, drainTimeoutMs: 100 } });
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => {
      entered = r;
    });
    service.app.get("/hang", () => {
      entered();
      return new Promise(() => {});
    });
    const base = await service.listen();
    const hung = fetch(`${base}/hang`).then(
      () => "answered",
      () => "cut",
    );
    await inHandler;
    const t0 = Date.now();
    await service.stop();
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(await hung).toBe("cut");
  });

  it("tracedRequest carries the trace and the request id over a kept-alive connection", async () => {
    const { service } = build();
    const base = await service.listen();
    const traceIds = await trace.getTracer("test").startActiveSpan("caller", async (span) => {
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) {
        const res = await tracedRequest(new URL("/orders", base), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ customerId: "c1", items: [{ sku: "A", qty: 1 }] }),
          requestId: `req-${i}`,
        });
        expect(res.status).toBe(200);
        expect(res.headers["x-request-id"]).toBe(`req-${i}`);
        ids.push((JSON.parse(res.text) as { traceId: string }).traceId);
      }
      span.end();
      return { ids, caller: span.spanContext().traceId };
    });
    expect(traceIds.ids).toEqual([traceIds.caller, traceIds.caller]);
  });
});

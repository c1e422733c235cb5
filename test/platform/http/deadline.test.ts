import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import {
  createService,
  currentDeadline,
  deadlineHeaderValue,
  parseDeadlineHeader,
  remainingMs,
  type Service,
} from "../../../src/platform/http/index.ts";
import { createLogger } from "../../../src/platform/observability/index.ts";

const services: Service[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
});

function build(): Service {
  const service = createService({
    name: "deadline",
    logger: createLogger({ level: "silent" }),
    shutdown: { readinessGraceMs: 0 },
  });
  services.push(service);
  service.app.post("/echo", async (request) => {
    // Read after the body was parsed: the deadline must survive the parser's async hop.
    await new Promise((r) => setImmediate(r));
    return {
      deadline: request.deadline ?? null,
      current: currentDeadline() ?? null,
      left: request.deadline === undefined ? null : remainingMs(request.deadline),
    };
  });
  return service;
}

describe("deadline propagation (x-deadline-ms)", () => {
  it("turns the header into request.deadline and the current deadline of the handler", async () => {
    const service = build();
    const before = performance.now();
    const res = await service.app.inject({
      method: "POST",
      url: "/echo",
      headers: { "x-deadline-ms": "250" },
      payload: { some: "body" },
    });
    const after = performance.now();
    expect(res.statusCode).toBe(200);
    const body = res.json() as { deadline: number; current: number; left: number };
    expect(body.current).toBe(body.deadline);
    expect(body.deadline).toBeGreaterThanOrEqual(before + 250);
    expect(body.deadline).toBeLessThanOrEqual(after + 250);
    expect(body.left).toBeGreaterThan(0);
    expect(body.left).toBeLessThanOrEqual(250);
  });

  it("leaves the deadline undefined without the header", async () => {
    const service = build();
    const res = await service.app.inject({ method: "POST", url: "/echo", payload: {} });
    expect(res.json()).toEqual({ deadline: null, current: null, left: null });
  });

  it("answers a malformed header with 400 problem+json naming it, before the handler runs", async () => {
    const service = build();
    for (const bad of ["-5", "1.5", "soon", "", "1234567890"]) {
      const res = await service.app.inject({
        method: "POST",
        url: "/echo",
        headers: { "x-deadline-ms": bad },
        payload: {},
      });
      expect(res.statusCode, bad).toBe(400);
      expect(res.headers["content-type"]).toContain("application/problem+json");
      expect(res.json().errors).toEqual([{ field: "headers.x-deadline-ms", message: expect.any(String) }]);
    }
  });

  it("keeps concurrent requests' deadlines apart", async () => {
    const service = build();
    const answers = await Promise.all(
      [100, 5_000, 900, 30].map((ms) =>
        service.app.inject({
          method: "POST",
          url: "/echo",
          headers: { "x-deadline-ms": String(ms) },
          payload: {},
        }),
      ),
    );
    const lefts = answers.map((r) => (r.json() as { left: number }).left);
    expect(lefts[0]).toBeLessThanOrEqual(100);
    expect(lefts[1]).toBeGreaterThan(900);
    expect(lefts[2]).toBeGreaterThan(100);
    expect(lefts[2]).toBeLessThanOrEqual(900);
    expect(lefts[3]).toBeLessThanOrEqual(30);
  });

  it("parses exactly the non-negative integers of up to 9 digits", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999_999 }), (n) => {
        expect(parseDeadlineHeader(String(n))).toBe(n);
      }),
    );
    fc.assert(
      fc.property(
        fc.string().filter((s) => !/^\d{1,9}$/.test(s)),
        (s) => {
          expect(() => parseDeadlineHeader(s)).toThrow();
        },
      ),
    );
    expect(parseDeadlineHeader(undefined)).toBeUndefined();
    expect(() => parseDeadlineHeader(["1", "2"])).toThrow();
  });

  it("passes on what is left minus the margin, never negative, nothing without a deadline", () => {
    expect(deadlineHeaderValue(1_000, 10, 400)).toBe("590");
    expect(deadlineHeaderValue(1_000, 10, 995)).toBe("0");
    expect(deadlineHeaderValue(1_000, 0, 2_000)).toBe("0");
    expect(deadlineHeaderValue(undefined, 10)).toBeUndefined();
    expect(remainingMs(undefined)).toBe(Number.POSITIVE_INFINITY);
  });
});

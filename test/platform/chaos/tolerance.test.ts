import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { queryJsonPath, withinTolerance } from "../../../src/platform/chaos/index.ts";

const http = (status: number, body: unknown) => ({ status, headers: {}, body });

describe("JSONPath subset", () => {
  const doc = { a: { b: [10, 20], c: [{ b: 1 }, { b: 2 }, { d: 3 }] }, b: "top" };
  it("selects children, indexes, wildcards and descendants", () => {
    expect(queryJsonPath(doc, "$.a.b[0]")).toEqual([10]);
    expect(queryJsonPath(doc, "$.a.b[-1]")).toEqual([20]);
    expect(queryJsonPath(doc, "$.a.c[*].b")).toEqual([1, 2]);
    expect(queryJsonPath(doc, "$['a']['b'][1]")).toEqual([20]);
    expect(queryJsonPath(doc, "$..b")).toEqual(["top", [10, 20], 1, 2]);
    expect(queryJsonPath(doc, "$.missing.x")).toEqual([]);
  });
  it("rejects what it does not support", () => {
    expect(() => queryJsonPath(doc, "$.a[?(@.b)]")).toThrow(/unsupported/);
    expect(() => queryJsonPath(doc, "a.b")).toThrow(/must start with \$/);
  });
  it("$[*] lists exactly an array's elements", () => {
    fc.assert(
      fc.property(fc.array(fc.integer()), (xs) => {
        expect(queryJsonPath(xs, "$[*]")).toEqual(xs);
      }),
    );
  });
});

describe("tolerances (Chaos Toolkit semantics)", () => {
  it("scalars: bool equality, integer against status, string against body or stdout", () => {
    expect(withinTolerance(true, true)).toBe(true);
    expect(withinTolerance(true, false)).toBe(false);
    expect(withinTolerance(200, http(200, ""))).toBe(true);
    expect(withinTolerance(200, http(503, ""))).toBe(false);
    expect(withinTolerance(0, { status: 0, stdout: "", stderr: "" })).toBe(true);
    expect(withinTolerance("ok", http(200, "ok"))).toBe(true);
    expect(withinTolerance("ok", { status: 0, stdout: "nope", stderr: "" })).toBe(false);
  });

  it("a two-number list is an inclusive range; a longer list is membership", () => {
    expect(withinTolerance([200, 299], http(204, ""))).toBe(true);
    expect(withinTolerance([200, 299], http(299, ""))).toBe(true);
    expect(withinTolerance([200, 299], http(300, ""))).toBe(false);
    expect(withinTolerance([200, 201, 503], http(503, ""))).toBe(true);
    expect(withinTolerance([200, 201, 503], http(502, ""))).toBe(false);
    expect(withinTolerance(["up", "degraded", "ok"], "degraded")).toBe(true);
  });

  it("{type: range} checks the target (default: status)", () => {
    expect(withinTolerance({ type: "range", range: [0, 250] }, 180)).toBe(true);
    expect(
      withinTolerance({ type: "range", range: [0, 250], target: "body.p95" }, http(200, { p95: 300 })),
    ).toBe(false);
    expect(withinTolerance({ type: "range", range: [200, 299] }, http(201, {}))).toBe(true);
  });

  it("{type: regex} matches the body / stdout or a target", () => {
    expect(withinTolerance({ type: "regex", pattern: "^ready" }, http(200, "ready: yes"))).toBe(true);
    expect(withinTolerance({ type: "regex", pattern: "^ready" }, http(200, "not ready"))).toBe(false);
    expect(
      withinTolerance(
        { type: "regex", pattern: "draining", target: "body" },
        http(503, { status: "draining" }),
      ),
    ).toBe(true);
  });

  it("{type: jsonpath} passes on a match, an expected value, or a count", () => {
    const body = {
      checks: [
        { name: "db", status: "ok" },
        { name: "bus", status: "ok" },
      ],
    };
    expect(withinTolerance({ type: "jsonpath", path: "$.checks[*].status" }, http(200, body))).toBe(true);
    expect(withinTolerance({ type: "jsonpath", path: "$.nothing" }, http(200, body))).toBe(false);
    expect(
      withinTolerance({ type: "jsonpath", path: "$.checks[*].status", expect: "ok" }, http(200, body)),
    ).toBe(true);
    const failing = { checks: [{ status: "ok" }, { status: "failing" }] };
    expect(withinTolerance({ type: "jsonpath", path: "$..status", expect: "ok" }, http(200, failing))).toBe(
      false,
    );
    expect(withinTolerance({ type: "jsonpath", path: "$.checks[*]", count: 2 }, http(200, body))).toBe(true);
    expect(withinTolerance({ type: "jsonpath", path: "$.checks[*]", count: 3 }, http(200, body))).toBe(false);
    expect(withinTolerance({ type: "jsonpath", path: "$.a", expect: 1 }, http(200, '{"a":1}'))).toBe(true);
  });
});

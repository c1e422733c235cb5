import { isDeepStrictEqual } from "node:util";
import { queryJsonPath } from "./jsonpath.ts";

/** Chaos Toolkit tolerances: a scalar, a [lo, hi] range, a membership list, or a typed object. */
export type Tolerance =
  | boolean
  | number
  | string
  | unknown[]
  | { type: "range"; range: [number, number]; target?: string }
  | { type: "regex"; pattern: string; target?: string }
  | { type: "jsonpath"; path: string; expect?: unknown; count?: number; target?: string };

/**
 * Whether a probe's output meets its tolerance, as Chaos Toolkit decides it. Outputs of the http provider
 * (`{status, headers, body}`) and process provider (`{status, stdout, stderr}`) compare numbers and lists
 * against `status`, and strings against `body` / `stdout`.
 */
export function withinTolerance(tolerance: Tolerance, output: unknown): boolean {
  if (typeof tolerance === "boolean") return output === tolerance;
  if (typeof tolerance === "number") return field(output, "status") === tolerance;
  if (typeof tolerance === "string") return textOf(output) === tolerance;
  if (Array.isArray(tolerance)) {
    const value = field(output, "status");
    const [lo, hi] = tolerance;
    if (tolerance.length === 2 && typeof lo === "number" && typeof hi === "number") {
      return typeof value === "number" && value >= lo && value <= hi;
    }
    return tolerance.some((candidate) => isDeepStrictEqual(candidate, value));
  }
  const target = tolerance.target === undefined ? undefined : at(output, tolerance.target);
  switch (tolerance.type) {
    case "range": {
      const value = Number(tolerance.target === undefined ? field(output, "status") : target);
      const [lo, hi] = tolerance.range;
      return Number.isFinite(value) && value >= lo && value <= hi;
    }
    case "regex": {
      const value = tolerance.target === undefined ? textOf(output) : target;
      return new RegExp(tolerance.pattern).test(typeof value === "string" ? value : JSON.stringify(value));
    }
    case "jsonpath": {
      const document = tolerance.target === undefined ? bodyOf(output) : target;
      const values = queryJsonPath(parseMaybe(document), tolerance.path);
      if (tolerance.count !== undefined) return values.length === tolerance.count;
      if (tolerance.expect !== undefined) {
        const expect = tolerance.expect;
        return (
          values.length > 0 &&
          values.every((v) =>
            Array.isArray(expect)
              ? expect.some((e) => isDeepStrictEqual(e, v))
              : isDeepStrictEqual(expect, v),
          )
        );
      }
      return values.length > 0;
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `output.key` when output is a provider record carrying that key, else output itself. */
function field(output: unknown, key: string): unknown {
  return isRecord(output) && key in output ? output[key] : output;
}

function textOf(output: unknown): unknown {
  if (!isRecord(output)) return output;
  if ("stdout" in output) return output.stdout;
  if ("body" in output) return output.body;
  return output;
}

function bodyOf(output: unknown): unknown {
  return isRecord(output) && "body" in output && "status" in output ? output.body : output;
}

function at(output: unknown, dotted: string): unknown {
  let node = output;
  for (const key of dotted.split(".")) node = isRecord(node) ? node[key] : undefined;
  return node;
}

function parseMaybe(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

import { ChaosValidationError } from "../errors.ts";

type Step =
  | { kind: "child"; name: string }
  | { kind: "index"; index: number }
  | { kind: "wildcard" }
  | {
      kind: "descend";
      name: string | "*";
    };

/**
 * A JSONPath subset, enough for tolerances: `$`, `.name`, `['name']`, `[0]` (negative counts from the end),
 * `[*]` and `.*`, and recursive descent `..name` / `..*`. Filters and slices are not supported.
 */
export function compileJsonPath(path: string): Step[] {
  if (!path.startsWith("$")) throw invalid(path, "must start with $");
  const steps: Step[] = [];
  let i = 1;
  const name = () => {
    const match = /^[A-Za-z_$][\w$-]*|^\*/.exec(path.slice(i));
    if (!match) throw invalid(path, `expected a name at ${i}`);
    i += match[0].length;
    return match[0];
  };
  while (i < path.length) {
    if (path.startsWith("..", i)) {
      i += 2;
      steps.push({ kind: "descend", name: name() });
    } else if (path[i] === ".") {
      i += 1;
      const n = name();
      steps.push(n === "*" ? { kind: "wildcard" } : { kind: "child", name: n });
    } else if (path[i] === "[") {
      const close = path.indexOf("]", i);
      if (close < 0) throw invalid(path, `unclosed [ at ${i}`);
      const inner = path.slice(i + 1, close).trim();
      i = close + 1;
      if (inner === "*") steps.push({ kind: "wildcard" });
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: "index", index: Number(inner) });
      else if (/^(['"]).*\1$/.test(inner)) steps.push({ kind: "child", name: inner.slice(1, -1) });
      else throw invalid(path, `unsupported selector [${inner}]`);
    } else {
      throw invalid(path, `unexpected ${path[i]} at ${i}`);
    }
  }
  return steps;
}

/** Every value `path` selects in `document`, in document order. */
export function queryJsonPath(document: unknown, path: string): unknown[] {
  let nodes: unknown[] = [document];
  for (const step of compileJsonPath(path)) {
    nodes = nodes.flatMap((node) => apply(step, node));
  }
  return nodes;
}

function apply(step: Step, node: unknown): unknown[] {
  switch (step.kind) {
    case "child":
      return isObject(node) && Object.hasOwn(node, step.name) ? [node[step.name]] : [];
    case "index": {
      if (!Array.isArray(node)) return [];
      const at = step.index < 0 ? node.length + step.index : step.index;
      return at >= 0 && at < node.length ? [node[at]] : [];
    }
    case "wildcard":
      return children(node);
    case "descend": {
      const found: unknown[] = [];
      const visit = (n: unknown) => {
        if (step.name === "*") found.push(...children(n));
        else if (isObject(n) && !Array.isArray(n) && Object.hasOwn(n, step.name)) found.push(n[step.name]);
        for (const child of children(n)) visit(child);
      };
      visit(node);
      return found;
    }
  }
}

function children(node: unknown): unknown[] {
  if (Array.isArray(node)) return node;
  return isObject(node) ? Object.values(node) : [];
}

function isObject(node: unknown): node is Record<string, unknown> {
  return typeof node === "object" && node !== null;
}

function invalid(path: string, why: string): ChaosValidationError {
  return new ChaosValidationError(`invalid JSONPath ${path}: ${why}`, [
    { field: "tolerance.path", message: why },
  ]);
}

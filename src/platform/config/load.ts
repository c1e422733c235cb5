import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { type Static, type TSchema, TypeGuard } from "@sinclair/typebox";
import { Value, type ValueError } from "@sinclair/typebox/value";

export interface ConfigProblem {
  /** Dotted path of the field, e.g. "http.port". */
  path: string;
  message: string;
  /** Where the bad value came from: "default", a file path, or an environment variable. */
  source: string;
}

/** Start-up stops on this: one line per bad field. */
export class ConfigError extends Error {
  readonly code = "BWK_ERR_CONFIG_INVALID";
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems
        .map((p) => `  - ${p.path || "(root)"}: ${p.message} [from ${p.source}]`)
        .join("\n")}`,
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}

export interface LoadConfigOptions {
  /** An explicit config file (--config); it must exist. Without it, `<cwd>/bulwark.config.json` is read if present. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Highest-priority values, e.g. from command-line flags or tests. */
  overrides?: Record<string, unknown>;
}

/** Well-known variables other tools set, mapped to their config path. */
const ENV_ALIASES: Record<string, string[]> = {
  DATABASE_URL: ["database", "url"],
  NATS_URL: ["nats", "url"],
  REDIS_URL: ["redis", "url"],
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: ["tracing", "otlpUrl"],
};

/**
 * Loads and validates configuration against `schema`: its defaults, then the file, then the environment,
 * then `overrides`. Throws {@link ConfigError} listing every bad field with the source of its value.
 */
export function loadConfig<S extends TSchema>(schema: S, options: LoadConfigOptions = {}): Static<S> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const sources = new Map<string, string>();
  const problems: ConfigProblem[] = [];
  let merged: Record<string, unknown> = {};

  const file = options.file ? resolve(cwd, options.file) : resolve(cwd, "bulwark.config.json");
  if (options.file && !existsSync(file)) {
    throw new ConfigError([{ path: "", message: `config file not found: ${file}`, source: "--config" }]);
  }
  if (existsSync(file)) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
      if (!isPlainObject(parsed)) throw new Error("the top level must be a JSON object");
      merged = deepMerge(merged, parsed, [], sources, file);
    } catch (err) {
      throw new ConfigError([
        { path: "", message: `cannot read ${file}: ${(err as Error).message}`, source: file },
      ]);
    }
  }

  const fromEnv: Record<string, unknown> = {};
  for (const [name, path, leaf] of envVariables(schema)) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    setPath(fromEnv, path, coerce(raw, leaf));
    sources.set(path.join("."), name);
  }
  for (const [name, path] of Object.entries(ENV_ALIASES)) {
    const raw = env[name];
    // BULWARK_* names win over the generic aliases.
    if (raw === undefined || raw === "" || sources.get(path.join("."))?.startsWith("BULWARK_")) continue;
    if (!hasPath(schema, path)) continue;
    setPath(fromEnv, path, raw);
    sources.set(path.join("."), name);
  }
  merged = deepMerge(merged, fromEnv, [], new Map(), "");
  if (options.overrides) merged = deepMerge(merged, options.overrides, [], sources, "overrides");

  const value = Value.Default(schema, merged) as Static<S>;
  for (const error of Value.Errors(schema, value)) {
    const path = pointerToPath(error.path);
    if (problems.some((p) => p.path === path)) continue; // one message per field
    problems.push({ path, message: describe(error), source: sourceOf(path, sources) });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return value;
}

/** Every environment variable the schema accepts: BULWARK_ + the upper-snake path of a scalar or list leaf. */
export function envVariables(schema: TSchema): Array<[string, string[], TSchema]> {
  const out: Array<[string, string[], TSchema]> = [];
  const walk = (node: TSchema, path: string[]) => {
    if (TypeGuard.IsObject(node)) {
      for (const [key, child] of Object.entries(node.properties)) walk(child, [...path, key]);
      return;
    }
    if (TypeGuard.IsIntersect(node) || (TypeGuard.IsRecord(node) && path.length > 0)) return;
    out.push([`BULWARK_${path.map(upperSnake).join("_")}`, path, node]);
  };
  walk(schema, []);
  return out;
}

function upperSnake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

function coerce(raw: string, leaf: TSchema): unknown {
  if (TypeGuard.IsInteger(leaf) || TypeGuard.IsNumber(leaf)) {
    const n = Number(raw);
    return raw.trim() !== "" && Number.isFinite(n) ? n : raw;
  }
  if (TypeGuard.IsBoolean(leaf)) {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    return raw;
  }
  if (TypeGuard.IsArray(leaf)) {
    return raw
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  }
  return raw;
}

function describe(error: ValueError): string {
  const schema = error.schema;
  const got = error.value === undefined ? "nothing" : JSON.stringify(error.value);
  if (TypeGuard.IsUnion(schema) && schema.anyOf.every((s) => TypeGuard.IsLiteral(s))) {
    return `must be one of ${schema.anyOf.map((s) => JSON.stringify(s.const)).join(", ")} (got ${got})`;
  }
  if (error.message.startsWith("Unexpected property")) return "unknown setting (check the spelling)";
  return `${error.message} (got ${got})`;
}

function sourceOf(path: string, sources: Map<string, string>): string {
  for (let p = path; p; p = p.includes(".") ? p.slice(0, p.lastIndexOf(".")) : "") {
    const source = sources.get(p);
    if (source) return source;
  }
  return "default";
}

function pointerToPath(pointer: string): string {
  return pointer
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .join(".");
}

function hasPath(schema: TSchema, path: string[]): boolean {
  let node: TSchema | undefined = schema;
  for (const key of path) {
    if (!node || !TypeGuard.IsObject(node)) return false;
    node = node.properties[key];
  }
  return node !== undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (!isPlainObject(node[key])) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function deepMerge(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
  path: string[],
  sources: Map<string, string>,
  source: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const here = [...path, key];
    if (isPlainObject(value) && isPlainObject(out[key])) {
      out[key] = deepMerge(out[key] as Record<string, unknown>, value, here, sources, source);
    } else {
      out[key] = value;
      if (source) sources.set(here.join("."), source);
    }
  }
  return out;
}

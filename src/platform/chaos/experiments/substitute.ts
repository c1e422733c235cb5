import type { ConfigurationValue } from "./types.ts";

/** Resolves Chaos Toolkit configuration: literal values, or `{type: "env", key, default}`. */
export function resolveConfiguration(
  configuration: Record<string, ConfigurationValue> | undefined,
  env: NodeJS.ProcessEnv,
): Record<string, unknown> {
  const resolved: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(configuration ?? {})) {
    const ref = value as { type?: unknown; key?: unknown; default?: unknown };
    if (typeof value === "object" && value !== null && ref.type === "env" && typeof ref.key === "string") {
      resolved[name] = env[ref.key] ?? ref.default;
    } else {
      resolved[name] = value;
    }
  }
  return resolved;
}

/**
 * Replaces `${name}` in every string of `value` with the configuration value. A string that is exactly one
 * `${name}` takes the value with its type (a number stays a number).
 */
export function substitute<T>(value: T, configuration: Record<string, unknown>): T {
  if (typeof value === "string") {
    const whole = /^\$\{([\w.-]+)\}$/.exec(value);
    if (whole && whole[1]! in configuration) return configuration[whole[1]!] as T;
    return value.replace(/\$\{([\w.-]+)\}/g, (m, name: string) =>
      name in configuration ? String(configuration[name]) : m,
    ) as T;
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, configuration)) as T;
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, configuration)])) as T;
  }
  return value;
}

import { createHash } from "node:crypto";

/** JSON with object keys sorted, so two equal payloads fingerprint the same whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/** What makes two requests "the same" for an idempotency key: method, route, path parameters and body. */
export function requestFingerprint(method: string, route: string, params: unknown, body: unknown): string {
  return createHash("sha256")
    .update(`${method}\n${route}\n${canonicalJson(params ?? {})}\n${canonicalJson(body ?? null)}`)
    .digest("base64url");
}

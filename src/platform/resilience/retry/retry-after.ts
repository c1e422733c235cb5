/**
 * Milliseconds to wait according to an HTTP `Retry-After` value: delta-seconds ("120") or an HTTP-date.
 * Returns undefined for anything unparsable.
 */
export function parseRetryAfter(value: string | number, nowWallMs: number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowWallMs);
}

interface RetryAfterCarrier {
  retryAfterMs?: unknown;
  retryAfter?: unknown;
  headers?: unknown;
  response?: { headers?: unknown };
}

function headerOf(headers: unknown): unknown {
  if (headers === null || typeof headers !== "object") return undefined;
  if (typeof (headers as Headers).get === "function")
    return (headers as Headers).get("retry-after") ?? undefined;
  return (headers as Record<string, unknown>)["retry-after"];
}

/**
 * Finds a server's wish in an error: `retryAfterMs` (Bulwark's errors), `retryAfter` (seconds or header
 * text), or a `retry-after` header on `error.headers` / `error.response.headers` (fetch and most clients).
 */
export function retryAfterOf(error: unknown, nowWallMs: number): number | undefined {
  if (error === null || typeof error !== "object") return undefined;
  const e = error as RetryAfterCarrier;
  if (typeof e.retryAfterMs === "number") return e.retryAfterMs;
  const raw = e.retryAfter ?? headerOf(e.headers) ?? headerOf(e.response?.headers);
  return typeof raw === "string" || typeof raw === "number" ? parseRetryAfter(raw, nowWallMs) : undefined;
}

import { ChaosError } from "../errors.ts";

/** A tiny JSON-over-HTTP caller with a bearer token, for the fault proxy and failure-flag admin APIs. */
export async function callJson(
  base: string,
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<unknown> {
  const url = base.replace(/\/$/, "") + path;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (cause) {
    throw new ChaosError("BWK_ERR_CHAOS_NOT_FOUND", 502, `${method} ${url}: unreachable`, { cause });
  }
  const text = await response.text();
  const payload: unknown = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const problem = payload as {
      detail?: string;
      title?: string;
      errors?: { field: string; message: string }[];
    };
    throw new ChaosError(
      response.status === 400
        ? "BWK_ERR_CHAOS_VALIDATION"
        : response.status === 409
          ? "BWK_ERR_CHAOS_CONFLICT"
          : "BWK_ERR_CHAOS_NOT_FOUND",
      response.status,
      `${method} ${url}: ${response.status} ${problem?.detail ?? problem?.title ?? ""}`.trim(),
      { errors: problem?.errors ?? [] },
    );
  }
  return payload;
}

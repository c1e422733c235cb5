import type { HttpProvider } from "../types.ts";

export interface HttpOutput {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

const BODYLESS = new Set(["GET", "HEAD", "DELETE"]);

/** Chaos Toolkit's http provider: output `{status, headers, body}`, JSON bodies parsed. */
export async function runHttpProvider(provider: HttpProvider, signal: AbortSignal): Promise<HttpOutput> {
  const method = (provider.method ?? "GET").toUpperCase();
  const url = new URL(provider.url);
  let body: string | undefined;
  if (provider.arguments && BODYLESS.has(method)) {
    for (const [k, v] of Object.entries(provider.arguments)) url.searchParams.set(k, String(v));
  } else if (provider.arguments) {
    body = JSON.stringify(provider.arguments);
  }
  const response = await fetch(url, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...provider.headers },
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.any([signal, AbortSignal.timeout((provider.timeout ?? 30) * 1000)]),
  });
  const text = await response.text();
  const json = /json/.test(response.headers.get("content-type") ?? "");
  let parsed: unknown = text;
  if (json && text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      // Keep the text: a broken JSON body is itself an observation.
    }
  }
  const expected = provider.expected_status;
  if (
    expected !== undefined &&
    !(Array.isArray(expected) ? expected : [expected]).includes(response.status)
  ) {
    throw new Error(`expected status ${JSON.stringify(expected)} but got ${response.status}`);
  }
  return { status: response.status, headers: Object.fromEntries(response.headers), body: parsed };
}

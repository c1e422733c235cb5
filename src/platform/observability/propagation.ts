import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";

const tracer = trace.getTracer("bulwark.http-client");

/** Writes the active context (`traceparent`, `tracestate`) into a header carrier. */
export function injectTraceHeaders(headers: Record<string, string> = {}): Record<string, string> {
  propagation.inject(context.active(), headers);
  return headers;
}

/** The W3C traceparent of the active span, if any. */
export function currentTraceparent(): string | undefined {
  return injectTraceHeaders().traceparent;
}

/**
 * Runs `send` in a client span; `send` gets the headers that carry the trace context (and the caller's
 * request id), so one trace follows a request across services.
 */
function inClientSpan<R extends { status: number }>(
  method: string,
  url: URL,
  requestId: string | undefined,
  send: (traceHeaders: Record<string, string>) => Promise<R>,
): Promise<R> {
  return tracer.startActiveSpan(
    `${method} ${url.host}`,
    {
      kind: SpanKind.CLIENT,
      attributes: { "http.request.method": method, "url.full": url.href, "server.address": url.hostname },
    },
    async (span) => {
      const traceHeaders: Record<string, string> = {};
      propagation.inject(context.active(), traceHeaders);
      if (requestId) traceHeaders["x-request-id"] = requestId;
      try {
        const response = await send(traceHeaders);
        span.setAttribute("http.response.status_code", response.status);
        if (response.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        return response;
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** `fetch` in a client span, with the trace context (and the caller's request id) in the headers. */
export async function tracedFetch(
  url: string | URL,
  init: RequestInit & { requestId?: string } = {},
): Promise<Response> {
  const target = new URL(url);
  return inClientSpan((init.method ?? "GET").toUpperCase(), target, init.requestId, (traceHeaders) => {
    const headers = new Headers(init.headers);
    for (const [k, v] of Object.entries(traceHeaders)) headers.set(k, v);
    return fetch(target, { ...init, headers });
  });
}

/** A whole HTTP answer, body read as text. */
export interface TextResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

// One pool of kept-alive connections per process: a service calls few hosts, many times.
const keepAlive = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

/**
 * Like tracedFetch (client span, trace context and request id in the headers) over node:http with kept-alive
 * connections, for hot service-to-service calls with small bodies: it skips fetch's web streams, which
 * showed in the commerce bench's profile. Errors are node:http's (`code` ECONNREFUSED, ECONNRESET, …); an
 * aborted `signal` ends the request with an AbortError.
 */
export function tracedRequest(
  url: URL,
  init: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    signal?: AbortSignal;
    /** Ends the request with a TimeoutError after this long; a timer cleared at the end, cheaper than AbortSignal.timeout. */
    timeoutMs?: number;
    requestId?: string;
  } = {},
): Promise<TextResponse> {
  const method = (init.method ?? "GET").toUpperCase();
  return inClientSpan(method, url, init.requestId, (traceHeaders) => {
    const headers: Record<string, string | number> = { ...init.headers, ...traceHeaders };
    if (init.body !== undefined) headers["content-length"] = Buffer.byteLength(init.body);
    const https = url.protocol === "https:";
    return new Promise<TextResponse>((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(
        url,
        {
          method,
          headers,
          agent: https ? keepAlive.https : keepAlive.http,
          ...(init.signal ? { signal: init.signal } : {}),
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            text += chunk;
          });
          res.on("error", reject);
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        },
      );
      req.on("error", reject);
      if (init.timeoutMs !== undefined) {
        // AbortSignal.timeout's timer cannot be cleared: it fires for every request, done or not, and builds
        // a DOMException each time; with AbortSignal.any around it, 9 µs a request before any I/O.
        const timer = setTimeout(
          () => req.destroy(new DOMException(`no answer within ${init.timeoutMs} ms`, "TimeoutError")),
          init.timeoutMs,
        );
        req.on("close", () => clearTimeout(timer));
      }
      req.end(init.body);
    });
  });
}

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
 * `fetch` with a client span and the trace context (and the caller's request id) carried in the headers,
 * so one trace follows a request across services.
 */
export async function tracedFetch(
  url: string | URL,
  init: RequestInit & { requestId?: string } = {},
): Promise<Response> {
  const target = new URL(url);
  const method = (init.method ?? "GET").toUpperCase();
  return tracer.startActiveSpan(
    `${method} ${target.host}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        "http.request.method": method,
        "url.full": target.href,
        "server.address": target.hostname,
      },
    },
    async (span) => {
      const headers = new Headers(init.headers);
      const carrier: Record<string, string> = {};
      propagation.inject(context.active(), carrier);
      for (const [k, v] of Object.entries(carrier)) headers.set(k, v);
      if (init.requestId) headers.set("x-request-id", init.requestId);
      try {
        const response = await fetch(target, { ...init, headers });
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

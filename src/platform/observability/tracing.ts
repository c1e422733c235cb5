import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";

export interface TracingOptions {
  serviceName: string;
  /** none: spans are created for context propagation but not exported; memory: kept for tests. */
  exporter: "none" | "otlp" | "memory";
  otlpUrl?: string;
}

export interface Tracing {
  /** Present when the exporter is "memory". */
  memory?: InMemorySpanExporter;
  shutdown(): Promise<void>;
}

let installed: { tracing: Tracing; provider: BasicTracerProvider } | undefined;

/**
 * Installs the process-wide OpenTelemetry tracer provider, W3C trace-context propagator and async
 * context manager. Idempotent: a second call returns the first installation (one provider per process).
 */
export function setupTracing(options: TracingOptions): Tracing {
  if (installed) return installed.tracing;
  const processors: SpanProcessor[] = [];
  let memory: InMemorySpanExporter | undefined;
  if (options.exporter === "memory") {
    memory = new InMemorySpanExporter();
    processors.push(new SimpleSpanProcessor(memory));
  } else if (options.exporter === "otlp") {
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: options.otlpUrl })));
  }
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": options.serviceName }),
    spanProcessors: processors,
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  const tracing: Tracing = {
    ...(memory ? { memory } : {}),
    async shutdown() {
      await provider.shutdown();
    },
  };
  installed = { tracing, provider };
  return tracing;
}

import {
  type Context,
  context,
  isSpanContextValid,
  type Link,
  propagation,
  type Span,
  SpanKind,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";
import type { Headers } from "./types.ts";

// A no-op until the observability module installs an SDK; then each publish and each processing is a span.
const tracer = trace.getTracer("bulwark.messaging");

const setter: TextMapSetter<Headers> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};
const getter: TextMapGetter<Headers> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

function attributes(system: string, destination: string, operation: "send" | "process") {
  return {
    "messaging.system.name": system,
    "messaging.destination.name": destination,
    "messaging.operation.type": operation,
  };
}

/** Starts a send span and writes its context (traceparent) into `headers`. */
export function startSendSpan(system: string, topic: string, headers: Headers): Span {
  const span = tracer.startSpan(`send ${topic}`, {
    kind: SpanKind.PRODUCER,
    attributes: attributes(system, topic, "send"),
  });
  // With no SDK installed and no trace in progress there is nothing to carry: skip the context churn.
  if (isSpanContextValid(span.spanContext())) {
    propagation.inject(trace.setSpan(context.active(), span), headers, setter);
  }
  return span;
}

/** Runs `fn` inside a process span linked to the producer context carried by `headers`. */
export function withProcessSpan<T>(
  system: string,
  topic: string,
  headers: Headers,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const producer: Context = propagation.extract(context.active(), headers, getter);
  const producerSpan = trace.getSpanContext(producer);
  const links: Link[] = producerSpan ? [{ context: producerSpan }] : [];
  return tracer.startActiveSpan(
    `process ${topic}`,
    { kind: SpanKind.CONSUMER, links, attributes: attributes(system, topic, "process") },
    producer,
    fn,
  );
}

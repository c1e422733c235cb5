import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

export { Registry } from "prom-client";

/** A registry with the process metrics (CPU, memory, event-loop lag, GC) every service exposes. */
export function createMetricsRegistry(defaultLabels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(defaultLabels);
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** RED metrics per route: rate and duration from one histogram, errors from a counter of 5xx answers. */
export interface HttpMetrics {
  duration: Histogram<"method" | "route" | "status_code">;
  errors: Counter<"method" | "route" | "status_code">;
}

export function createHttpMetrics(registry: Registry): HttpMetrics {
  const existing = registry.getSingleMetric("http_request_duration_seconds");
  if (existing) {
    return {
      duration: existing as HttpMetrics["duration"],
      errors: registry.getSingleMetric("http_request_errors_total") as HttpMetrics["errors"],
    };
  }
  return {
    duration: new Histogram({
      name: "http_request_duration_seconds",
      help: "HTTP request duration by route; its _count is the request rate",
      labelNames: ["method", "route", "status_code"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    errors: new Counter({
      name: "http_request_errors_total",
      help: "HTTP requests answered with a 5xx status",
      labelNames: ["method", "route", "status_code"],
      registers: [registry],
    }),
  };
}

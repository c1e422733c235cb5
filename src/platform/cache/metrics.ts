import { Counter, Histogram, type Registry } from "prom-client";

/** The series one cache namespace reports; the `cache` label is the namespace. */
export interface CacheMetrics {
  hit(): void;
  miss(): void;
  /** A caller joined a load already in flight instead of starting its own. */
  coalesced(): void;
  load(outcome: "ok" | "error", seconds: number): void;
  invalidated(kind: "key" | "prefix" | "tag", entries: number): void;
  /** A backend call failed inside getOrLoad and was skipped (the read went to the source). */
  backendError(operation: "get" | "lock" | "set" | "unlock"): void;
}

export const noCacheMetrics: CacheMetrics = {
  hit() {},
  miss() {},
  coalesced() {},
  load() {},
  invalidated() {},
  backendError() {},
};

function metric<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function createCacheMetrics(registry: Registry, namespace: string): CacheMetrics {
  const requests = metric(
    registry,
    "cache_requests_total",
    () =>
      new Counter({
        name: "cache_requests_total",
        help: "cache reads by result (hit or miss)",
        labelNames: ["cache", "result"],
        registers: [registry],
      }),
  );
  const coalesced = metric(
    registry,
    "cache_coalesced_total",
    () =>
      new Counter({
        name: "cache_coalesced_total",
        help: "misses that joined a load already in flight (single-flight)",
        labelNames: ["cache"],
        registers: [registry],
      }),
  );
  const loads = metric(
    registry,
    "cache_load_duration_seconds",
    () =>
      new Histogram({
        name: "cache_load_duration_seconds",
        help: "time to load a missing entry from its source, by outcome; _count is the number of loads",
        labelNames: ["cache", "outcome"],
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers: [registry],
      }),
  );
  const invalidations = metric(
    registry,
    "cache_invalidated_entries_total",
    () =>
      new Counter({
        name: "cache_invalidated_entries_total",
        help: "entries removed by invalidation, by kind (key, prefix, tag)",
        labelNames: ["cache", "kind"],
        registers: [registry],
      }),
  );
  const backendErrors = metric(
    registry,
    "cache_backend_errors_total",
    () =>
      new Counter({
        name: "cache_backend_errors_total",
        help: "cache backend calls that failed inside a cache-aside read, which then went to the source",
        labelNames: ["cache", "operation"],
        registers: [registry],
      }),
  );
  // Bound children once: the hot path pays one increment, not a label lookup.
  const hits = requests.labels(namespace, "hit");
  const misses = requests.labels(namespace, "miss");
  const joined = coalesced.labels(namespace);
  return {
    hit: () => hits.inc(),
    miss: () => misses.inc(),
    coalesced: () => joined.inc(),
    load: (outcome, seconds) => loads.labels(namespace, outcome).observe(seconds),
    invalidated: (kind, entries) => invalidations.labels(namespace, kind).inc(entries),
    backendError: (operation) => backendErrors.labels(namespace, operation).inc(),
  };
}

/** One sample of a collected metric, as prom-client's `get()` returns it. */
interface Sample {
  labels: Record<string, string>;
  value: number;
}

/**
 * A metric that prom-client's Registry accepts in `registerMetric` and reads at scrape time. Counting
 * happens in plain number fields of the policies, so the call path pays nothing for metrics.
 */
export interface CollectedMetric {
  name: string;
  help: string;
  type: "counter" | "gauge";
  aggregator: "sum";
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }>;
  reset(): void;
}

/**
 * The part of prom-client's `Registry` this module uses; pass a real Registry. The parameter is typed
 * `never` so that prom-client's own signature (which names its metric classes) fits without importing it.
 */
export interface MetricsRegistryLike {
  registerMetric(metric: never): void;
}

export function register(registry: MetricsRegistryLike, metric: CollectedMetric): void {
  (registry.registerMetric as (m: CollectedMetric) => void).call(registry, metric);
}

export function collectedMetric(
  name: string,
  help: string,
  type: "counter" | "gauge",
  collect: () => Sample[],
): CollectedMetric {
  return {
    name,
    help,
    type,
    aggregator: "sum",
    get: async () => ({ name, help, type, aggregator: "sum", values: collect() }),
    // Counters live in the policies and are never reset by a scrape-side reset.
    reset: () => {},
  };
}

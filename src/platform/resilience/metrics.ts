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

const shared = new WeakMap<MetricsRegistryLike, Map<string, CollectedMetric[]>>();

/**
 * Registers `metric`. Several policy sets in one process (one per case) share a registry: the first one
 * registers the name, and later ones with the same name join it, so a scrape sums over all of them.
 */
export function register(registry: MetricsRegistryLike, metric: CollectedMetric): void {
  let byName = shared.get(registry);
  if (!byName) {
    byName = new Map();
    shared.set(registry, byName);
  }
  const members = byName.get(metric.name);
  if (members) {
    members.push(metric);
    return;
  }
  const joined: CollectedMetric[] = [metric];
  byName.set(metric.name, joined);
  const combined: CollectedMetric = {
    ...metric,
    get: async () => {
      const parts = await Promise.all(joined.map((m) => m.get()));
      // Two sets with a dependency of the same name give one series, summed.
      const byLabels = new Map<string, Sample>();
      for (const v of parts.flatMap((p) => p.values)) {
        const key = JSON.stringify(Object.entries(v.labels).sort(([a], [b]) => (a < b ? -1 : 1)));
        const seen = byLabels.get(key);
        if (seen) seen.value += v.value;
        else byLabels.set(key, { labels: v.labels, value: v.value });
      }
      return { ...parts[0]!, values: [...byLabels.values()] };
    },
    reset: () => {
      for (const m of joined) m.reset();
    },
  };
  (registry.registerMetric as (m: CollectedMetric) => void).call(registry, combined);
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

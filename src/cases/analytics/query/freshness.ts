import { Histogram, type Registry } from "prom-client";

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 120, 300];

function histogram(registry: Registry, name: string, help: string): Histogram {
  return (
    (registry.getSingleMetric(name) as Histogram | undefined) ??
    new Histogram({ name, help, buckets: BUCKETS, registers: [registry] })
  );
}

/** How long until what happened in the market can be read from the query API. */
export interface FreshnessMetrics {
  /** A trade's event time → the moment reads of its symbol return it. */
  tradeToVisible: Histogram;
  /** A window's end (event time) → the moment its result can be read; includes the watermark's wait by design. */
  windowEndToVisible: Histogram;
  /** The store commit of a result → the cache entries covering it are gone (stream mode only). */
  commitToVisible: Histogram;
}

export function createFreshnessMetrics(registry: Registry): FreshnessMetrics {
  return {
    tradeToVisible: histogram(
      registry,
      "bulwark_analytics_freshness_trade_to_visible_seconds",
      "trade event time to visible in the query API (per symbol, its newest trade, at each result commit)",
    ),
    windowEndToVisible: histogram(
      registry,
      "bulwark_analytics_freshness_window_end_to_visible_seconds",
      "window end (event time) to the window's result visible in the query API",
    ),
    commitToVisible: histogram(
      registry,
      "bulwark_analytics_freshness_commit_to_visible_seconds",
      "result committed to the shard store to the cache entries covering it invalidated",
    ),
  };
}

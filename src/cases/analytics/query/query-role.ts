import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { type Cache, memoryCache } from "../../../platform/cache/index.ts";
import type { ServiceExtension } from "../../../platform/http/index.ts";
import type { Bus } from "../../../platform/messaging/index.ts";
import type { Clock } from "../../../platform/time/index.ts";
import type { AnalyticsConfig } from "../config.ts";
import type { ShardedStore } from "../store/index.ts";
import { createQueryService, type QueryService } from "./query-service.ts";
import { ShardedReads } from "./reads.ts";

export interface QueryRoleDeps {
  config: AnalyticsConfig;
  shards: ShardedStore;
  bus: Bus;
  /** A shared cache (Redis on the distributed profile); an in-process LRU when absent. */
  cache?: Cache;
  logger: Logger;
  registry: Registry;
  clock: Clock;
  host: string;
  admin: { enabled: boolean; token?: string };
  extensions: readonly ServiceExtension[];
}

/**
 * The query role as the config asks for it: in stream mode, cache-aside (if `cache.enabled`) invalidated by
 * window events; in batch mode, straight reads of the tables the recompute fills, no cache. Both modes record
 * freshness from the window events (the processor's, or the batch recompute's).
 */
export function createQueryRole(deps: QueryRoleDeps): QueryService {
  const { config } = deps;
  const streaming = config.mode === "stream";
  const cache =
    streaming && config.cache.enabled
      ? (deps.cache ??
        memoryCache({
          namespace: "analytics-query",
          maxEntries: config.cache.maxEntries,
          defaultTtlMs: config.cache.ttlMs,
          registry: deps.registry,
          clock: deps.clock,
        }))
      : undefined;
  return createQueryService({
    config,
    reads: new ShardedReads(deps.shards),
    ...(cache ? { cache } : {}),
    bus: deps.bus,
    logger: deps.logger,
    registry: deps.registry,
    clock: deps.clock,
    http: { host: deps.host, port: config.ports.query },
    admin: deps.admin,
    extensions: deps.extensions,
    readiness: {
      shards: () => Promise.all(deps.shards.shards.map((s) => s.ping())),
    },
  });
}

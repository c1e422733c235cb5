import { Redis } from "ioredis";
import {
  ANALYTICS_ROLES,
  type Analytics,
  type AnalyticsRole,
  createAnalytics,
} from "../../cases/analytics/system.ts";
import { redisCache } from "../../platform/cache/index.ts";
import { type JetStreamDriver, jetStreamDriver, type LogDriver } from "../../platform/messaging/index.ts";
import type { Runtime } from "../runtime.ts";
import type { CaseModule } from "./case-module.ts";

export interface StartedAnalytics {
  analytics: Analytics;
  /** The log the processor reads with its own cursors (undefined without a stream processor). */
  log: LogDriver | undefined;
  /** The processor's own JetStream connection on the distributed profile (closed by stop()). */
  jetStream: JetStreamDriver | undefined;
  /** Stops the services, then closes what this call opened (JetStream connection, Redis client). */
  stop(): Promise<void>;
}

/**
 * Builds the analytics case on a runtime with the adapters its profile calls for: the processor's log and the
 * query cache. Not listening yet. `bulwark serve`, the benches and the integration tests all start it this way.
 */
export async function startAnalytics(
  rt: Runtime,
  roles: readonly AnalyticsRole[],
  options: { member?: string } = {},
): Promise<StartedAnalytics> {
  const { config } = rt;
  // The processor reads the log itself (it commits offsets only after a checkpoint): the embedded log is the
  // runtime's own driver; on JetStream it gets a connection of its own.
  let log: LogDriver | undefined = rt.sameStoreLog;
  let jetStream: JetStreamDriver | undefined;
  if (!log && roles.includes("processor") && config.analytics.mode === "stream") {
    jetStream = await jetStreamDriver({
      servers: config.nats.url,
      namespace: config.database.schema ?? "bulwark",
    });
    log = jetStream;
  }
  // The query cache is shared by every query process through Redis on the distributed profile (its
  // invalidations then reach every reader); on the embedded one the query service keeps an in-memory LRU.
  const redis =
    roles.includes("query") &&
    config.profile === "distributed" &&
    config.analytics.mode === "stream" &&
    config.analytics.cache.enabled
      ? new Redis(config.redis.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false })
      : undefined;
  redis?.on("error", (err) => rt.logger.warn({ err: err.message }, "redis (query cache) unavailable"));
  const closeOwn = async () => {
    await jetStream?.close();
    redis?.disconnect();
  };
  try {
    const analytics = await createAnalytics({
      config: config.analytics,
      roles: [...roles],
      store: rt.store,
      openAuxStore: (name) => rt.openAuxStore(name),
      bus: rt.bus,
      ...(log ? { log } : {}),
      logger: rt.logger,
      registry: rt.registry,
      host: config.http.host,
      admin: config.admin,
      extensions: rt.extensions,
      ...(options.member ? { member: options.member } : {}),
      // Embedded: 20 ms took the latest tile's p50 from ~47 to ~20 ms (docs/BENCHMARKS.md, session 4); on
      // Postgres it did not clearly help, so the distributed profile keeps 50.
      defaultLatestFlushMs: config.profile === "distributed" ? 50 : 20,
      ...(redis
        ? {
            queryCache: redisCache({
              namespace: "analytics-query",
              redis,
              registry: rt.registry,
              defaultTtlMs: config.analytics.cache.ttlMs,
              keyPrefix: `bwk:cache:${config.database.schema ?? "bulwark"}:`,
            }),
          }
        : {}),
    });
    return {
      analytics,
      log,
      jetStream,
      async stop() {
        await analytics.stop();
        await closeOwn();
      },
    };
  } catch (err) {
    await closeOwn();
    throw err;
  }
}

export const analyticsCase: CaseModule = {
  name: "analytics",
  services: ANALYTICS_ROLES,
  enabled: (config) => config.analytics.enabled,
  port: (config, service) => config.analytics.ports[service as AnalyticsRole],
  async start(rt, services) {
    const started = await startAnalytics(
      rt,
      ANALYTICS_ROLES.filter((r) => services.includes(r)),
    );
    try {
      const urls = await started.analytics.listen();
      return { urls, services: Object.values(started.analytics.running), stop: () => started.stop() };
    } catch (err) {
      await started.stop();
      throw err;
    }
  },
};

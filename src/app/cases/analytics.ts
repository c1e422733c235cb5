import { Redis } from "ioredis";
import { ANALYTICS_ROLES, type AnalyticsRole, createAnalytics } from "../../cases/analytics/system.ts";
import { redisCache } from "../../platform/cache/index.ts";
import { jetStreamDriver, type LogDriver } from "../../platform/messaging/index.ts";
import type { CaseModule } from "./case-module.ts";

export const analyticsCase: CaseModule = {
  name: "analytics",
  services: ANALYTICS_ROLES,
  enabled: (config) => config.analytics.enabled,
  port: (config, service) => config.analytics.ports[service as AnalyticsRole],
  async start(rt, services) {
    const { config } = rt;
    const roles = ANALYTICS_ROLES.filter((r) => services.includes(r));
    // The processor reads the log itself (it commits offsets only after a checkpoint): the embedded log is
    // the runtime's own driver; on JetStream it gets a connection of its own.
    let log: LogDriver | undefined = rt.sameStoreLog;
    let ownLog: { close(): Promise<void> } | undefined;
    if (!log && roles.includes("processor") && config.analytics.mode === "stream") {
      const driver = await jetStreamDriver({
        servers: config.nats.url,
        namespace: config.database.schema ?? "bulwark",
      });
      log = driver;
      ownLog = driver;
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
      await ownLog?.close();
      redis?.disconnect();
    };
    try {
      const analytics = await createAnalytics({
        config: config.analytics,
        roles,
        store: rt.store,
        openAuxStore: (name) => rt.openAuxStore(name),
        bus: rt.bus,
        ...(log ? { log } : {}),
        logger: rt.logger,
        registry: rt.registry,
        host: config.http.host,
        admin: config.admin,
        extensions: rt.extensions,
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
      try {
        const urls = await analytics.listen();
        return {
          urls,
          services: Object.values(analytics.running),
          stop: async () => {
            await analytics.stop();
            await closeOwn();
          },
        };
      } catch (err) {
        await analytics.stop();
        throw err;
      }
    } catch (err) {
      await closeOwn();
      throw err;
    }
  },
};

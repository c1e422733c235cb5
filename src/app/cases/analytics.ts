import { ANALYTICS_ROLES, type AnalyticsRole, createAnalytics } from "../../cases/analytics/system.ts";
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
      });
      try {
        const urls = await analytics.listen();
        return {
          urls,
          services: Object.values(analytics.running),
          stop: async () => {
            await analytics.stop();
            await ownLog?.close();
          },
        };
      } catch (err) {
        await analytics.stop();
        throw err;
      }
    } catch (err) {
      await ownLog?.close();
      throw err;
    }
  },
};

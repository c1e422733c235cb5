import { Redis } from "ioredis";
import { checkBanking } from "../../cases/banking/checker.ts";
import { BANKING_ROLES, type BankingRole, createBanking } from "../../cases/banking/system.ts";
import { RedisRateLimitStore } from "../../platform/resilience/index.ts";
import { openStore } from "../../platform/storage/index.ts";
import { storeConfigFor } from "../runtime.ts";
import type { CaseModule } from "./case-module.ts";

export const bankingCase: CaseModule = {
  name: "banking",
  services: BANKING_ROLES,
  enabled: (config) => config.banking.enabled,
  port: (config, service) => config.banking.ports[service as BankingRole],
  async start(rt, services) {
    const { config } = rt;
    const roles = BANKING_ROLES.filter((r) => services.includes(r));
    // A secret, so from the environment only (never the config file or the config view).
    const signingKey = process.env.BULWARK_BANKING_SIGNING_KEY;
    // The gateway's rate limit is shared by every gateway process through Redis on the distributed profile;
    // on the embedded one the gateway keeps it in memory.
    const redis =
      roles.includes("gateway") && config.profile === "distributed"
        ? new Redis(config.redis.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false })
        : undefined;
    redis?.on("error", (err) => rt.logger.warn({ err: err.message }, "redis (rate limit) unavailable"));
    const banking = await createBanking({
      config: config.banking,
      roles,
      store: rt.store,
      bus: rt.bus,
      logger: rt.logger,
      registry: rt.registry,
      host: config.http.host,
      admin: config.admin,
      extensions: rt.extensions,
      serviceKeys: config.auth.serviceKeys,
      ...(signingKey ? { signingKey } : {}),
      ...(redis
        ? {
            rateLimitStore: new RedisRateLimitStore(redis, {
              prefix: `bwk:rl:${config.database.schema ?? "bulwark"}:`,
            }),
          }
        : {}),
    }).catch((err: unknown) => {
      redis?.disconnect();
      throw err;
    });
    const stop = async () => {
      await banking.stop();
      redis?.disconnect();
    };
    try {
      const urls = await banking.listen();
      // Keyed by role (banking:gateway), since commerce has a gateway too.
      const byRole = Object.fromEntries(Object.entries(urls).map(([name, url]) => [`banking:${name}`, url]));
      return { urls: byRole, services: Object.values(banking.running), stop };
    } catch (err) {
      await stop();
      throw err;
    }
  },
  async check(config) {
    const store = await openStore(storeConfigFor(config));
    try {
      return await checkBanking(store);
    } finally {
      await store.close();
    }
  },
};

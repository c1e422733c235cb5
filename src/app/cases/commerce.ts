import { checkCommerce } from "../../cases/commerce/checker.ts";
import { COMMERCE_ROLES, type CommerceRole, createCommerce } from "../../cases/commerce/system.ts";
import { openStore } from "../../platform/storage/index.ts";
import { storeConfigFor } from "../runtime.ts";
import type { CaseModule } from "./case-module.ts";

export const commerceCase: CaseModule = {
  name: "commerce",
  services: COMMERCE_ROLES,
  enabled: (config) => config.commerce.enabled,
  port: (config, service) => config.commerce.ports[service as CommerceRole],
  async start(rt, services) {
    const { config } = rt;
    const roles = COMMERCE_ROLES.filter((r) => services.includes(r));
    const commerce = await createCommerce({
      config: config.commerce,
      roles,
      store: rt.store,
      ...(roles.includes("gateway") ? { gatewayStore: await rt.openAuxStore("gateway") } : {}),
      bus: rt.bus,
      ...(rt.sameStoreLog ? { sameStoreLog: rt.sameStoreLog } : {}),
      logger: rt.logger,
      registry: rt.registry,
      host: config.http.host,
      admin: config.admin,
      extensions: rt.extensions,
      serviceKeys: config.auth.serviceKeys,
      ...(config.resilience["payment-gateway"]
        ? { gatewayPolicy: config.resilience["payment-gateway"] }
        : {}),
    });
    try {
      const urls = await commerce.listen();
      return { urls, services: Object.values(commerce.running), stop: () => commerce.stop() };
    } catch (err) {
      await commerce.stop();
      throw err;
    }
  },
  async check(config, options) {
    const store = await openStore(storeConfigFor(config));
    try {
      const gatewayStore = await openStore(storeConfigFor(config, "gateway"));
      try {
        return await checkCommerce(store, gatewayStore, options);
      } finally {
        await gatewayStore.close();
      }
    } finally {
      await store.close();
    }
  },
};

import { createCommerce } from "../cases/commerce/system.ts";
import type { Service } from "../platform/http/index.ts";
import type { AppConfig } from "./config.ts";
import { createConsoleService } from "./console-service.ts";
import { createRuntime, type Runtime } from "./runtime.ts";

export interface RunningSystem {
  runtime: Runtime;
  services: Service[];
  /** Base URL of each running service, by name. */
  urls: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts the whole system for a profile in this process. The case studies register their services here. */
export async function startSystem(config: AppConfig, runtime?: Runtime): Promise<RunningSystem> {
  const rt = runtime ?? (await createRuntime(config));
  const urls: Record<string, string> = {};
  const services: Service[] = [];
  const stops: Array<() => Promise<void>> = [];
  const consoleService = createConsoleService(rt, () => urls);
  services.push(consoleService);
  stops.push(() => consoleService.stop());
  try {
    urls.console = await consoleService.listen();
    if (config.commerce.enabled) {
      const commerce = await createCommerce({
        config: config.commerce,
        store: rt.store,
        gatewayStore: await rt.openAuxStore("gateway"),
        bus: rt.bus,
        ...(rt.sameStoreLog ? { sameStoreLog: rt.sameStoreLog } : {}),
        logger: rt.logger,
        registry: rt.registry,
        host: config.http.host,
        admin: config.admin,
      });
      stops.push(() => commerce.stop());
      Object.assign(urls, await commerce.listen());
      services.push(
        commerce.order.service,
        commerce.inventory.service,
        commerce.payment.service,
        commerce.gateway,
      );
    }
  } catch (err) {
    await Promise.allSettled(stops.map((stop) => stop()));
    await rt.close();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    runtime: rt,
    services,
    urls,
    stop() {
      stopping ??= (async () => {
        // Services first (they drain in parallel), then what they share.
        await Promise.all(stops.map((stop) => stop()));
        await rt.close();
      })();
      return stopping;
    },
  };
}

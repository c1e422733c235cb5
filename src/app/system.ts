import { COMMERCE_ROLES, type CommerceRole, createCommerce } from "../cases/commerce/system.ts";
import type { Service } from "../platform/http/index.ts";
import type { AppConfig } from "./config.ts";
import { createConsoleService } from "./console-service.ts";
import { createRuntime, type Runtime } from "./runtime.ts";

/** Every service a process can run: `bulwark serve <role>...` picks some, `bulwark start` runs them all. */
export const ROLES = ["console", ...COMMERCE_ROLES.map((r) => `commerce:${r}` as const)] as const;
export type Role = (typeof ROLES)[number];

export interface RunningSystem {
  runtime: Runtime;
  services: Service[];
  /** Base URL of each running service, by name. */
  urls: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts the system's services (all, or the given roles) for a profile in this process. */
export async function startSystem(
  config: AppConfig,
  options: { runtime?: Runtime; roles?: readonly Role[] } = {},
): Promise<RunningSystem> {
  const rt = options.runtime ?? (await createRuntime(config));
  const roles = new Set<Role>(options.roles ?? ROLES);
  const urls: Record<string, string> = {};
  const services: Service[] = [];
  const stops: Array<() => Promise<void>> = [];
  try {
    if (roles.has("console")) {
      const consoleService = createConsoleService(rt, () => urls);
      services.push(consoleService);
      stops.push(() => consoleService.stop());
      urls.console = await consoleService.listen();
    }
    const commerceRoles = COMMERCE_ROLES.filter((r) => roles.has(`commerce:${r}`));
    if (config.commerce.enabled && commerceRoles.length > 0) {
      const commerce = await createCommerce({
        config: config.commerce,
        roles: commerceRoles,
        store: rt.store,
        ...(commerceRoles.includes("gateway") ? { gatewayStore: await rt.openAuxStore("gateway") } : {}),
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
      stops.push(() => commerce.stop());
      Object.assign(urls, await commerce.listen());
      services.push(...Object.values(commerce.running));
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

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export type { CommerceRole };

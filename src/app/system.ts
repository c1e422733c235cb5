import type { Service } from "../platform/http/index.ts";
import { CASES } from "./cases/index.ts";
import type { AppConfig } from "./config.ts";
import { createConsoleService } from "./console-service.ts";
import { createRuntime, type Runtime } from "./runtime.ts";

/** Every service a process can run (`console`, then `<case>:<service>`): `bulwark serve <role>...` picks some. */
export const ROLES: readonly string[] = [
  "console",
  ...CASES.flatMap((c) => c.services.map((s) => `${c.name}:${s}`)),
];
export type Role = string;

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
  const unknown = options.roles?.find((r) => !isRole(r));
  if (unknown) throw new Error(`unknown role "${unknown}" (known: ${ROLES.join(", ")})`);
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
    for (const kase of CASES) {
      const wanted = kase.services.filter((s) => roles.has(`${kase.name}:${s}`));
      if (!kase.enabled(config) || wanted.length === 0) continue;
      const started = await kase.start(rt, wanted);
      stops.push(() => started.stop());
      // Named like the roles (`commerce:gateway`, `banking:gateway`), so two cases' services never collide.
      for (const [service, url] of Object.entries(started.urls)) {
        urls[service.startsWith(`${kase.name}:`) ? service : `${kase.name}:${service}`] = url;
      }
      services.push(...started.services);
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
  return ROLES.includes(value);
}

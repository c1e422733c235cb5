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
  const consoleService = createConsoleService(rt, () => urls);
  services.push(consoleService);
  try {
    urls.console = await consoleService.listen();
  } catch (err) {
    await Promise.allSettled(services.map((s) => s.stop()));
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
        await Promise.all(services.map((s) => s.stop()));
        await rt.close();
      })();
      return stopping;
    },
  };
}

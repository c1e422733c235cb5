import { join, resolve } from "node:path";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import {
  createLogger,
  createMetricsRegistry,
  setupTracing,
  type Tracing,
} from "../platform/observability/index.ts";
import { openStore, type Store, type StoreConfig } from "../platform/storage/index.ts";
import type { AppConfig } from "./config.ts";

/** What every service in one process shares: logger, metrics registry, tracing, and the store. */
export interface Runtime {
  config: AppConfig;
  logger: Logger;
  registry: Registry;
  tracing: Tracing;
  store: Store;
  close(): Promise<void>;
}

/** The store the profile calls for: a SQLite file under dataDir, or Postgres. */
export function storeConfigFor(config: AppConfig): StoreConfig {
  if (config.profile === "embedded") {
    return { kind: "sqlite", file: join(resolve(config.dataDir), "bulwark.db") };
  }
  return {
    kind: "postgres",
    url: config.database.url,
    poolSize: config.database.poolSize,
    ...(config.database.schema ? { schema: config.database.schema } : {}),
  };
}

export async function createRuntime(config: AppConfig, logger?: Logger): Promise<Runtime> {
  const log =
    logger ??
    createLogger({
      level: config.log.level,
      ...(config.log.pretty !== undefined ? { pretty: config.log.pretty } : {}),
    });
  const tracing = setupTracing({
    serviceName: "bulwark",
    exporter: config.tracing.exporter,
    otlpUrl: config.tracing.otlpUrl,
  });
  const registry = createMetricsRegistry({ profile: config.profile });
  const storeConfig = storeConfigFor(config);
  let store: Store;
  try {
    store = await openStore(storeConfig);
    await store.ping();
  } catch (err) {
    const where = storeConfig.kind === "sqlite" ? storeConfig.file : redactUrl(storeConfig.url);
    throw new Error(`cannot open the ${storeConfig.kind} store at ${where}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return {
    config,
    logger: log,
    registry,
    tracing,
    store,
    async close() {
      await store.close();
      await tracing.shutdown();
    },
  };
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable url)";
  }
}

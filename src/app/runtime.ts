import { join, resolve } from "node:path";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { ServiceExtension } from "../platform/http/index.ts";
import {
  type Bus,
  createBus,
  type EmbeddedLogDriver,
  embeddedDriver,
  jetStreamDriver,
} from "../platform/messaging/index.ts";
import {
  createLogger,
  createMetricsRegistry,
  setupTracing,
  type Tracing,
} from "../platform/observability/index.ts";
import { openStore, type Store, type StoreConfig } from "../platform/storage/index.ts";
import type { AppConfig } from "./config.ts";
import { faultInjectionExtensions } from "./fault-injection.ts";

/** What every service in one process shares: logger, metrics registry, tracing, and the store. */
export interface Runtime {
  config: AppConfig;
  logger: Logger;
  registry: Registry;
  tracing: Tracing;
  store: Store;
  bus: Bus;
  /** Set on the embedded profile: the log lives in `store`, so outbox rows move into it in one transaction. */
  sameStoreLog?: EmbeddedLogDriver;
  /** Added to every service this runtime builds (fault injection in fault mode). */
  extensions: ServiceExtension[];
  /** Opens another isolated database of this profile (a SQLite file, or a Postgres schema), closed with the runtime. */
  openAuxStore(name: string): Promise<Store>;
  close(): Promise<void>;
}

/**
 * The store the profile calls for: a SQLite file under dataDir, or Postgres. `name` picks another isolated
 * database of the same profile (`<name>.db`, or the schema `<schema>_<name>`).
 */
export function storeConfigFor(config: AppConfig, name?: string): StoreConfig {
  if (config.profile === "embedded") {
    return { kind: "sqlite", file: join(resolve(config.dataDir), `${name ?? "bulwark"}.db`) };
  }
  const schema = name ? `${config.database.schema ?? "bulwark"}_${name}` : config.database.schema;
  return {
    kind: "postgres",
    url: config.database.url,
    poolSize: config.database.poolSize,
    ...(schema ? { schema } : {}),
  };
}

async function openChecked(config: StoreConfig): Promise<Store> {
  try {
    const store = await openStore(config);
    await store.ping();
    return store;
  } catch (err) {
    const where = config.kind === "sqlite" ? config.file : redactUrl(config.url);
    throw new Error(`cannot open the ${config.kind} store at ${where}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

async function openBus(
  config: AppConfig,
  store: Store,
): Promise<{ bus: Bus; sameStoreLog?: EmbeddedLogDriver }> {
  if (config.profile === "embedded") {
    const driver = await embeddedDriver({ store });
    return { bus: createBus({ driver }), sameStoreLog: driver };
  }
  try {
    const driver = await jetStreamDriver({
      servers: config.nats.url,
      namespace: config.database.schema ?? "bulwark",
    });
    return { bus: createBus({ driver }) };
  } catch (err) {
    throw new Error(`cannot connect to NATS JetStream at ${config.nats.url}: ${(err as Error).message}`, {
      cause: err,
    });
  }
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
  const store = await openChecked(storeConfigFor(config));
  const aux: Store[] = [];
  let opened: { bus: Bus; sameStoreLog?: EmbeddedLogDriver };
  try {
    opened = await openBus(config, store);
  } catch (err) {
    await store.close();
    throw err;
  }
  return {
    config,
    logger: log,
    registry,
    tracing,
    store,
    ...opened,
    extensions: faultInjectionExtensions(config.chaos.enabled).extensions,
    async openAuxStore(name) {
      const extra = await openChecked(storeConfigFor(config, name));
      aux.push(extra);
      return extra;
    },
    async close() {
      await opened.bus.close();
      for (const s of aux.splice(0)) await s.close();
      await store.close();
      await tracing.shutdown();
    },
  };
}

/** The URL with its password replaced, for logs and operators. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable url)";
  }
}

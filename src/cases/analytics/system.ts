import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Cache } from "../../platform/cache/index.ts";
import { createService, type Service, type ServiceExtension } from "../../platform/http/index.ts";
import type { Bus, LogDriver } from "../../platform/messaging/index.ts";
import type { Store } from "../../platform/storage/index.ts";
import { type Clock, systemClock } from "../../platform/time/index.ts";
import { type BatchMode, createBatchMode } from "./batch/index.ts";
import type { AnalyticsConfig } from "./config.ts";
import { TOPICS } from "./events.ts";
import { createIngestService, LiveFeed, TradePublisher } from "./ingest/index.ts";
import { StreamProcessor } from "./processor/index.ts";
import { createQueryRole, type QueryService } from "./query/index.ts";
import { openShardedStore, type ShardedStore } from "./store/index.ts";

export const ANALYTICS_ROLES = ["ingest", "processor", "query"] as const;
export type AnalyticsRole = (typeof ANALYTICS_ROLES)[number];

export interface AnalyticsDeps {
  config: AnalyticsConfig;
  /** Which services this process runs; all by default. */
  roles?: readonly AnalyticsRole[];
  /** The main store: processor checkpoints. */
  store: Store;
  /** Opens another isolated database of the profile (a SQLite file or a Postgres schema): the shards. */
  openAuxStore(name: string): Promise<Store>;
  bus: Bus;
  /** The bus's log, read directly by the processor (needed for the processor role). */
  log?: LogDriver;
  logger: Logger;
  registry: Registry;
  clock?: Clock;
  host?: string;
  admin?: { enabled: boolean; token?: string };
  extensions?: readonly ServiceExtension[];
  /** Processor member id in its consumer group (default: random). */
  member?: string;
  /**
   * The processor's latest-trade flush interval when the config does not set one (`latestFlushMs`): the
   * profile's, since a flush costs a SQLite transaction in-process but a Postgres round trip per shard.
   */
  defaultLatestFlushMs?: number;
  /** The query role's cache when shared (Redis on the distributed profile); an in-process LRU when absent. */
  queryCache?: Cache;
}

export interface Analytics {
  shards: ShardedStore;
  publisher: TradePublisher;
  processor: StreamProcessor | undefined;
  liveFeed: LiveFeed | undefined;
  query: QueryService | undefined;
  /** Batch mode's loader and recompute, in the processor role when `mode` is "batch". */
  batch: BatchMode | undefined;
  /** The services this process runs, by role. */
  running: Partial<Record<AnalyticsRole, Service>>;
  urls: Record<string, string>;
  listen(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

/** Declares the analytics topics; idempotent. */
export async function declareAnalyticsTopics(bus: Bus, config: AnalyticsConfig): Promise<void> {
  await bus.declareTopic({ name: TOPICS.trades, partitions: config.partitions });
  await bus.declareTopic({ name: TOPICS.assignment, partitions: config.partitions });
  await bus.declareTopic({ name: TOPICS.windowEvents, partitions: 1 });
  await bus.declareTopic({ name: TOPICS.anomalies, partitions: 1 });
}

/** Builds the analytics case: ingest (HTTP + live demo feed), the stream processor, and the query service. */
export async function createAnalytics(deps: AnalyticsDeps): Promise<Analytics> {
  const { config } = deps;
  const clock = deps.clock ?? systemClock;
  const host = deps.host ?? "127.0.0.1";
  const admin = deps.admin ?? { enabled: false };
  const extensions = deps.extensions ?? [];
  const roles = new Set<AnalyticsRole>(deps.roles ?? ANALYTICS_ROLES);
  await declareAnalyticsTopics(deps.bus, config);
  const shards = await openShardedStore({ config: config.shards, open: deps.openAuxStore });
  const publisher = new TradePublisher({ bus: deps.bus, partitions: config.partitions, clock });
  const running: Analytics["running"] = {};
  let liveFeed: LiveFeed | undefined;
  if (roles.has("ingest")) {
    running.ingest = createIngestService({
      publisher,
      logger: deps.logger,
      registry: deps.registry,
      http: { host, port: config.ports.ingest },
      admin,
      extensions,
    });
    if (config.liveFeed.rate > 0) {
      liveFeed = new LiveFeed({
        publisher,
        rate: config.liveFeed.rate,
        symbols: config.liveFeed.symbols,
        seed: config.liveFeed.seed,
        clock,
        logger: deps.logger,
      });
    }
  }
  let processor: StreamProcessor | undefined;
  if (roles.has("processor") && config.mode === "stream") {
    if (!deps.log) throw new Error("the processor role needs the bus's log driver (deps.log)");
    processor = new StreamProcessor({
      config,
      bus: deps.bus,
      log: deps.log,
      store: deps.store,
      shards,
      logger: deps.logger,
      registry: deps.registry,
      clock,
      flushIntervalMs: config.latestFlushMs ?? deps.defaultLatestFlushMs ?? 50,
      ...(deps.member ? { member: deps.member } : {}),
    });
    await StreamProcessor.prepare(deps.store);
  }
  if (roles.has("processor")) {
    // The processor's own HTTP surface: probes and metrics (trades processed, checkpoint times).
    running.processor = createService({
      name: "analytics-processor",
      logger: deps.logger,
      registry: deps.registry,
      http: { host, port: config.ports.processor },
      admin,
      extensions,
    });
  }
  let batch: BatchMode | undefined;
  if (roles.has("processor") && config.mode === "batch") {
    batch = await createBatchMode({
      config,
      bus: deps.bus,
      shards,
      openAuxStore: deps.openAuxStore,
      clock,
      logger: deps.logger,
    });
  }
  let query: QueryService | undefined;
  if (roles.has("query")) {
    query = createQueryRole({
      config,
      shards,
      bus: deps.bus,
      ...(deps.queryCache ? { cache: deps.queryCache } : {}),
      logger: deps.logger,
      registry: deps.registry,
      clock,
      host,
      admin,
      extensions,
    });
    running.query = query.service;
  }
  const urls: Record<string, string> = {};
  let stopping: Promise<void> | undefined;
  return {
    shards,
    publisher,
    processor,
    liveFeed,
    query,
    batch,
    running,
    urls,
    async listen() {
      for (const [role, service] of Object.entries(running)) urls[role] = await service.listen();
      await processor?.start();
      batch?.start();
      liveFeed?.start();
      return urls;
    },
    stop() {
      stopping ??= (async () => {
        await liveFeed?.stop();
        await Promise.all(Object.values(running).map((s) => s.stop()));
        await processor?.stop();
        await batch?.stop();
      })();
      return stopping;
    },
  };
}

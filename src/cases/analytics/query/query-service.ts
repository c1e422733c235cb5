import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Cache } from "../../../platform/cache/index.ts";
import {
  createService,
  HttpProblem,
  type Service,
  type ServiceExtension,
} from "../../../platform/http/index.ts";
import type { Bus, Message, Subscription } from "../../../platform/messaging/index.ts";
import { type Clock, systemClock } from "../../../platform/time/index.ts";
import type { AnalyticsConfig } from "../config.ts";
import { LatestTradesUpdated, TOPICS, WindowsUpdated } from "../events.ts";
import { SYMBOL_PATTERN } from "../feed/index.ts";
import { createFreshnessMetrics, type FreshnessMetrics } from "./freshness.ts";
import type { AnalyticsReads } from "./reads.ts";

export type WindowsUpdatedPayload = Static<typeof WindowsUpdated.schema>;

/** Consumer group of the query services' cache invalidation. */
export const QUERY_GROUP = "analytics-query";

const SymbolName = Type.String({ minLength: 1, maxLength: 32, pattern: SYMBOL_PATTERN });
const EpochMs = Type.Integer({ minimum: 0, maximum: 8.64e15 });
const WindowMs = Type.Integer({ minimum: 1, maximum: 86_400_000 });

const SymbolParams = Type.Object({ symbol: SymbolName });
const LatestQuery = Type.Object({ window: Type.Optional(WindowMs) }, { additionalProperties: false });
const WindowsQuery = Type.Object(
  {
    from: EpochMs,
    to: EpochMs,
    window: Type.Optional(WindowMs),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000 })),
  },
  { additionalProperties: false },
);
const AnomaliesQuery = Type.Object(
  { since: EpochMs, limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) },
  { additionalProperties: false },
);
const TopMoversQuery = Type.Object(
  { window: Type.Optional(WindowMs), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) },
  { additionalProperties: false },
);

/** Cache tags: a symbol's entries, every `latest` entry (new trades), and cross-symbol answers. */
const tagOf = (symbol: string) => `sym:${symbol}`;
/** A symbol's `latest` answers only: new trades drop these, closed windows drop everything of the symbol. */
const latestTagOf = (symbol: string) => `latest:${symbol}`;
const LATEST_TAG = "latest";
const MARKET_TAG = "market";

export interface QueryServiceOptions {
  config: AnalyticsConfig;
  reads: AnalyticsReads;
  /** Cache-aside in front of the reads; omit for none (batch mode, or `cache.enabled: false`). */
  cache?: Cache;
  /** Where `analytics-window-events` arrive from, for invalidation and freshness; omit in batch mode. */
  bus?: Bus;
  /** Consumer group of the invalidation subscription. Each process with its own in-memory cache needs its own. */
  group?: string;
  logger: Logger;
  registry: Registry;
  clock?: Clock;
  http: { host: string; port: number };
  admin?: { enabled: boolean; token?: string };
  extensions?: readonly ServiceExtension[];
  readiness?: Record<string, () => Promise<unknown>>;
}

export interface QueryService {
  readonly service: Service;
  readonly freshness: FreshnessMetrics;
  /**
   * Results up to `event` are in the store: drop the cache entries they cover and record freshness. Called for
   * each window event from the bus, and by the batch recompute directly.
   */
  resultsVisible(event: WindowsUpdatedPayload): Promise<void>;
  /** Window events handled so far (tests wait on it). */
  readonly invalidations: number;
  /** LatestTradesUpdated events handled (each drops its symbols' cached `latest` answers). */
  readonly latestInvalidations: number;
}

/**
 * The analytics read API: the latest state of a symbol, its windows, recent anomalies, and top movers across
 * shards. Reads are cache-aside with single-flight; a window event drops the entries it covers.
 */
export function createQueryService(options: QueryServiceOptions): QueryService {
  const { config, reads, cache } = options;
  const clock = options.clock ?? systemClock;
  const defaultWindow = config.windows.sizeMs;
  const freshness = createFreshnessMetrics(options.registry);
  const service = createService({
    name: "analytics-query",
    logger: options.logger,
    registry: options.registry,
    http: options.http,
    ...(options.admin ? { admin: options.admin } : {}),
    ...(options.extensions ? { extensions: options.extensions } : {}),
    ...(options.readiness ? { readiness: options.readiness } : {}),
  });
  const read = <T>(key: string, tags: readonly string[], load: () => Promise<T>): Promise<T> =>
    cache ? cache.getOrLoad(key, load, { tags }) : load();

  const notFound = (symbol: string) =>
    new HttpProblem(404, "not-found", "No such symbol", `no trades of ${symbol} have been processed`);

  service.app.get(
    "/symbols/:symbol/latest",
    { schema: { params: SymbolParams, querystring: LatestQuery } },
    async (request) => {
      const { symbol } = request.params;
      const windowMs = request.query.window ?? defaultWindow;
      const view = await read(
        `latest:${symbol}:${windowMs}`,
        [tagOf(symbol), latestTagOf(symbol), LATEST_TAG],
        () => reads.latest(symbol, windowMs),
      );
      if (!view) throw notFound(symbol);
      return view;
    },
  );

  service.app.get(
    "/symbols/:symbol/windows",
    { schema: { params: SymbolParams, querystring: WindowsQuery } },
    async (request) => {
      const { symbol } = request.params;
      const { from, to } = request.query;
      if (from > to) {
        const errors = [{ field: "querystring.to", message: "must not be before from" }];
        throw new HttpProblem(400, "validation", "The request is invalid", "querystring.to is before from", {
          errors,
        });
      }
      const windowMs = request.query.window ?? defaultWindow;
      const limit = request.query.limit ?? 500;
      const windows = await read(
        `windows:${symbol}:${windowMs}:${from}:${to}:${limit}`,
        [tagOf(symbol)],
        () => reads.windows(symbol, { windowMs, from, to, limit }),
      );
      if (!windows) throw notFound(symbol);
      return { symbol, windowMs, windows };
    },
  );

  service.app.get("/anomalies", { schema: { querystring: AnomaliesQuery } }, async (request) => {
    const { since } = request.query;
    const limit = request.query.limit ?? 100;
    const anomalies = await read(`anomalies:${since}:${limit}`, [MARKET_TAG], () =>
      reads.anomalies({ since, limit }),
    );
    return { since, anomalies };
  });

  service.app.get("/top-movers", { schema: { querystring: TopMoversQuery } }, async (request) => {
    const windowMs = request.query.window ?? defaultWindow;
    const limit = request.query.limit ?? 10;
    return read(`top:${windowMs}:${limit}`, [MARKET_TAG], () => reads.topMovers({ windowMs, limit }));
  });

  let invalidations = 0;
  let latestInvalidations = 0;
  const resultsVisible = async (event: WindowsUpdatedPayload) => {
    if (cache) {
      await cache.deleteByTags([...event.symbols.map(tagOf), LATEST_TAG, MARKET_TAG]);
    }
    const visibleAt = clock.now();
    freshness.commitToVisible.observe(Math.max(0, visibleAt - event.at) / 1000);
    if (event.windowEnd > 0) {
      freshness.windowEndToVisible.observe(Math.max(0, visibleAt - event.windowEnd) / 1000);
    }
    const tradeTimes = await reads.newestTrades(event.symbols);
    for (const ts of tradeTimes.values()) {
      freshness.tradeToVisible.observe(Math.max(0, visibleAt - ts) / 1000);
    }
    invalidations++;
  };

  let subscription: Subscription | undefined;
  if (options.bus) {
    const bus = options.bus;
    const startedAt = clock.now();
    subscription = bus.subscribe({
      topic: TOPICS.windowEvents,
      group: options.group ?? QUERY_GROUP,
      // Events are keyed by trade partition: each partition's in order, the partitions' side by side, so one
      // slow invalidation or freshness read does not hold up the others' events.
      keyConcurrency: config.partitions,
      handler: async (message: Message, delivery) => {
        if (message.type === LatestTradesUpdated.type) {
          if (!Value.Check(LatestTradesUpdated.schema, message.payload)) {
            delivery.deadLetter("not a LatestTradesUpdated payload");
            return;
          }
          // One round trip for the whole event: one per symbol made the handler slower than the events came
          // (hundreds of symbols per flush, 8 partitions), and invalidations fell seconds behind.
          if (cache) await cache.deleteByTags(message.payload.symbols.map(latestTagOf));
          latestInvalidations++;
          return;
        }
        if (!Value.Check(WindowsUpdated.schema, message.payload)) {
          delivery.deadLetter("not a WindowsUpdated payload");
          return;
        }
        const event = message.payload;
        // A new group may start from the log's beginning: old events still invalidate (harmless), but their
        // ages would say nothing about freshness now.
        if (message.publishedAt < startedAt && cache) {
          await cache.deleteByTags(event.symbols.map(tagOf));
          return;
        }
        await resultsVisible(event);
      },
    });
    service.onShutdown(() => subscription?.stop());
  }

  return {
    service,
    freshness,
    resultsVisible,
    get invalidations() {
      return invalidations;
    },
    get latestInvalidations() {
      return latestInvalidations;
    },
  };
}

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { batchOf } from "../../../src/cases/analytics/feed/index.ts";
import { TradePublisher } from "../../../src/cases/analytics/ingest/index.ts";
import { StreamProcessor } from "../../../src/cases/analytics/processor/index.ts";
import { openShardedStore } from "../../../src/cases/analytics/store/index.ts";
import { declareAnalyticsTopics } from "../../../src/cases/analytics/system.ts";
import { createBus, MemoryLogDriver } from "../../../src/platform/messaging/index.ts";
import { createLogger } from "../../../src/platform/observability/index.ts";
import { eventually } from "../../support/services.ts";
import {
  compareWindows,
  configOf,
  expectedWindows,
  seededTrades,
  storedWindows,
  systemEnv,
  tempSqliteStores,
} from "./processor-harness.ts";

const config = configOf(systemEnv("embedded", { BULWARK_ANALYTICS_CHECKPOINT_INTERVAL_MS: "50" })).analytics;
const logger = createLogger({ level: "silent" });

/**
 * Processors stopped at arbitrary points, gracefully (final checkpoint) or as by a crash (state since the last
 * checkpoint abandoned, cursor left where the last checkpoint put it), and restarted: the stored windows still
 * equal the offline computation. Memory log and SQLite stores, so each run is quick.
 */
describe("analytics processor checkpoint/restore (property)", () => {
  it("restarts at any point, after a crash or a graceful stop, give the offline windows", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.array(fc.record({ at: fc.integer({ min: 1, max: 7 }), crash: fc.boolean() }), {
          minLength: 1,
          maxLength: 3,
        }),
        async (seed, stops) => {
          const { open, close } = tempSqliteStores("bulwark-restore-");
          const driver = new MemoryLogDriver();
          const bus = createBus({ driver, leaseTtlMs: 300 });
          try {
            const main = await open("main");
            await declareAnalyticsTopics(bus, config);
            const shards = await openShardedStore({ config: config.shards, open });
            const publisher = new TradePublisher({ bus, partitions: config.partitions });
            const make = () =>
              new StreamProcessor({
                config,
                bus,
                log: driver,
                store: main,
                shards,
                logger,
                assignmentPollMs: 10,
              });
            const trades = seededTrades(8_000, seed, 30);
            const cuts = new Map(stops.map((s) => [s.at, s.crash]));
            let processor = make();
            await processor.start();
            for (let chunk = 0; chunk < 8; chunk++) {
              await publisher.publish(batchOf(trades.slice(chunk * 1_000, (chunk + 1) * 1_000)));
              const crash = cuts.get(chunk);
              if (crash === undefined) continue;
              await eventually(() => processor.partitions().length === config.partitions, {
                timeoutMs: 5_000,
              });
              await processor.stop({ checkpoint: !crash });
              processor = make();
              await processor.start();
            }
            const expected = expectedWindows(trades, config.partitions);
            let problems: string[] = [];
            await eventually(
              async () => {
                problems = compareWindows(await storedWindows({ shards }), expected);
                return problems.length === 0;
              },
              { timeoutMs: 15_000, intervalMs: 50 },
            ).catch(() => expect(problems.slice(0, 5)).toEqual([]));
            await processor.stop();
          } finally {
            await bus.close();
            await close();
          }
        },
      ),
      { numRuns: 6 },
    );
  }, 120_000);
});

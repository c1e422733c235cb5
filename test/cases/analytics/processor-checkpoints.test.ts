import { describe, expect, it } from "vitest";
import { StreamProcessor } from "../../../src/cases/analytics/processor/index.ts";
import { openShardedStore } from "../../../src/cases/analytics/store/index.ts";
import { declareAnalyticsTopics } from "../../../src/cases/analytics/system.ts";
import { createBus, MemoryLogDriver } from "../../../src/platform/messaging/index.ts";
import { createLogger } from "../../../src/platform/observability/index.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";
import { configOf, systemEnv, tempSqliteStores } from "./processor-harness.ts";

const INTERVAL = 1_000;
const config = configOf(
  systemEnv("embedded", { BULWARK_ANALYTICS_CHECKPOINT_INTERVAL_MS: String(INTERVAL) }),
).analytics;

/**
 * A checkpoint's snapshot is taken synchronously (several ms per busy partition); the partitions of one
 * process must not all take theirs in the same loop turn. Memory log, SQLite stores, a fake clock stepped
 * 10 ms at a time: each partition's checkpoints are read from its row's updated_at (the clock at the save).
 */
describe("analytics processor checkpoints", () => {
  it("staggers the partitions' checkpoints over the interval and keeps each partition's phase", async () => {
    const { open, close } = tempSqliteStores("bulwark-checkpoints-");
    const clock = new FakeClock(1_000_000);
    const driver = new MemoryLogDriver();
    const bus = createBus({ driver, leaseTtlMs: 60_000 });
    try {
      const main = await open("main");
      await declareAnalyticsTopics(bus, config);
      const shards = await openShardedStore({ config: config.shards, open });
      const processor = new StreamProcessor({
        config,
        bus,
        log: driver,
        store: main,
        shards,
        logger: createLogger({ level: "silent" }),
        clock,
        assignmentPollMs: 10,
        // An idle partition ticks (and may checkpoint) this often: as fine as the clock's steps.
        idleTickMs: 10,
      });
      await processor.start();
      while (processor.partitions().length < config.partitions) {
        await clock.advance(10);
        await new Promise((r) => setImmediate(r));
      }
      const started = clock.now();
      /** Per partition, the clock at each of its checkpoints. */
      const saves = new Map<number, number[]>();
      while (clock.now() < started + 3 * INTERVAL) {
        await clock.advance(10);
        await new Promise((r) => setImmediate(r));
        const rows = await main.db
          .selectFrom("analytics_checkpoints" as never)
          .select(["partition_id", "updated_at"] as never)
          .execute();
        for (const row of rows as { partition_id: number; updated_at: number }[]) {
          const at = Number(row.updated_at);
          if (at <= started) continue;
          const seen = saves.get(row.partition_id) ?? [];
          if (seen.at(-1) !== at) seen.push(at);
          saves.set(row.partition_id, seen);
        }
      }
      await processor.stop();
      // Partition p checkpoints p/partitions of an interval after partition 0 (4 partitions: 250 ms apart)…
      const first = [...Array(config.partitions).keys()].map((p) => saves.get(p)?.[0] ?? Number.NaN);
      for (let p = 1; p < config.partitions; p++) {
        expect(first[p]! - first[p - 1]!).toBeGreaterThanOrEqual(INTERVAL / config.partitions - 20);
      }
      // …and each one an interval after its previous one, so they stay apart.
      for (let p = 0; p < config.partitions; p++) {
        const at = saves.get(p)!;
        expect(at.length).toBeGreaterThanOrEqual(2);
        for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeLessThan(INTERVAL + 20);
      }
    } finally {
      await bus.close();
      await close();
    }
  });
});

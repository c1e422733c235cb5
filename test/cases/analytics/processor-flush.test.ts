import { describe, expect, it } from "vitest";
import { batchOf } from "../../../src/cases/analytics/feed/index.ts";
import { TradePublisher } from "../../../src/cases/analytics/ingest/index.ts";
import { StreamProcessor } from "../../../src/cases/analytics/processor/index.ts";
import { openShardedStore, type ShardedStore } from "../../../src/cases/analytics/store/index.ts";
import { declareAnalyticsTopics } from "../../../src/cases/analytics/system.ts";
import { createBus, MemoryLogDriver } from "../../../src/platform/messaging/index.ts";
import { createLogger } from "../../../src/platform/observability/index.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";
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

const INTERVAL = 200;
// One partition, so every trade goes through the one task whose flushes the test holds.
const config = configOf(
  systemEnv("embedded", {
    BULWARK_ANALYTICS_PARTITIONS: "1",
    BULWARK_ANALYTICS_CHECKPOINT_INTERVAL_MS: String(INTERVAL),
  }),
).analytics;
const logger = createLogger({ level: "silent" });

/** The shards' writes, held while `hold` is set and failing while `fail` is: the test's hand on the flushes. */
function gatedWrites(shards: ShardedStore) {
  const write = shards.write.bind(shards);
  const gate = {
    calls: 0,
    hold: undefined as Promise<void> | undefined,
    fail: 0,
  };
  shards.write = (shard, writes) => {
    gate.calls++;
    if (gate.fail > 0) {
      gate.fail--;
      return Promise.reject(new Error("shard write failed (test)"));
    }
    const held = gate.hold;
    return held ? held.then(() => write(shard, writes)) : write(shard, writes);
  };
  return gate;
}

async function system(clock?: FakeClock) {
  const { open, close } = tempSqliteStores("bulwark-flush-");
  const driver = new MemoryLogDriver();
  const bus = createBus({ driver, leaseTtlMs: 60_000 });
  const main = await open("main");
  await declareAnalyticsTopics(bus, config);
  const shards = await openShardedStore({ config: config.shards, open });
  const gate = gatedWrites(shards);
  const processor = new StreamProcessor({
    config,
    bus,
    log: driver,
    store: main,
    shards,
    logger,
    assignmentPollMs: 10,
    idleTickMs: 10,
    ...(clock ? { clock } : {}),
  });
  return {
    shards,
    gate,
    processor,
    publisher: new TradePublisher({ bus, partitions: config.partitions }),
    async close() {
      await bus.close();
      await close();
    },
  };
}

/**
 * A partition's flush (its upserts, then the events announcing them) no longer holds the partition's reading:
 * the next trades are read, and their windows emitted, while the shards write. What must not move on early
 * is the checkpoint, whose snapshot counts every emitted result as stored.
 */
describe("analytics partition flushes", () => {
  it("reads on while a flush is held, and saves no checkpoint until the held rows have landed", async () => {
    const clock = new FakeClock(1_000_000);
    const s = await system(clock);
    const step = async () => {
      await clock.advance(10);
      await new Promise((r) => setImmediate(r));
    };
    try {
      await s.processor.start();
      while (s.processor.partitions().length < 1) await step();
      const trades = seededTrades(6_000, 7, 20);
      await s.publisher.publish(batchOf(trades.slice(0, 2_000)));
      // Everything so far landed and is checkpointed.
      const checkpointed = async () => (await s.processor.checkpoints())[0]?.source_offset ?? -1;
      while ((await checkpointed()) < 0) await step();
      const before = await checkpointed();

      let release = () => {};
      s.gate.hold = new Promise<void>((r) => {
        release = r;
      });
      const callsAtHold = s.gate.calls;
      await s.publisher.publish(batchOf(trades.slice(2_000, 4_000)));
      while (s.gate.calls === callsAtHold) await step();
      const firstHeld = s.gate.calls;
      // A later message, read while the first flush is still held, starts a flush of its own.
      await s.publisher.publish(batchOf(trades.slice(4_000)));
      for (let i = 0; i < 100 && s.gate.calls === firstHeld; i++) await step();
      expect(s.gate.calls).toBeGreaterThan(firstHeld);
      // Several checkpoint intervals passed with the rows held: none was saved.
      for (let i = 0; i < (3 * INTERVAL) / 10; i++) await step();
      expect(await checkpointed()).toBe(before);

      release();
      s.gate.hold = undefined;
      for (let i = 0; i < 500 && (await checkpointed()) === before; i++) await step();
      expect(await checkpointed()).toBeGreaterThan(before);
      // The checkpoint saved after the release counts as stored only what is in the shards.
      expect(compareWindows(await storedWindows(s), expectedWindows(trades, 1))).toEqual([]);
      await s.processor.stop();
    } finally {
      await s.close();
    }
  });

  it("a failed flush fails the partition, which restarts from its checkpoint with nothing lost", async () => {
    const s = await system();
    try {
      await s.processor.start();
      await eventually(() => s.processor.partitions().length === 1, { timeoutMs: 5_000 });
      const trades = seededTrades(6_000, 11, 20);
      await s.publisher.publish(batchOf(trades.slice(0, 3_000)));
      await eventually(async () => ((await s.processor.checkpoints())[0]?.source_offset ?? -1) >= 0, {
        timeoutMs: 5_000,
      });
      s.gate.fail = 1;
      await s.publisher.publish(batchOf(trades.slice(3_000)));
      await eventually(() => s.gate.fail === 0, { timeoutMs: 5_000 });
      let problems: string[] = [];
      await eventually(
        async () => {
          problems = compareWindows(await storedWindows(s), expectedWindows(trades, 1));
          return problems.length === 0;
        },
        { timeoutMs: 10_000, intervalMs: 20 },
      ).catch(() => expect(problems.slice(0, 5)).toEqual([]));
      await s.processor.stop();
    } finally {
      await s.close();
    }
  });
});

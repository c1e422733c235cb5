import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createBus, MemoryLogDriver, Outbox, OutboxRelay } from "../../../src/platform/messaging/index.ts";
import { openStore } from "../../../src/platform/storage/index.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";
import { eventually } from "../../support/services.ts";

const dir = mkdtempSync(join(tmpdir(), "bulwark-relay-wake-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("OutboxRelay.wake", () => {
  it("publishes committed rows at once instead of at the next poll", async () => {
    const store = await openStore({ kind: "sqlite", file: join(dir, "wake.db") });
    await Outbox.migrate(store);
    const clock = new FakeClock(1_000);
    const bus = createBus({ driver: new MemoryLogDriver(), clock });
    await bus.declareTopic({ name: "wake", partitions: 1 });
    const published: string[] = [];
    const original = bus.publishBatch.bind(bus);
    bus.publishBatch = async (items) => {
      published.push(...items.map((i) => i.key));
      return original(items);
    };
    // The poll interval is on a clock that never moves: only wake() can make the relay look again.
    const relay = new OutboxRelay({ store, bus, clock, pollMs: 60_000 });
    relay.start();
    await eventually(() => clock.pending > 0, { message: "the relay to go idle" });

    const outbox = new Outbox({ clock });
    await store.db
      .transaction()
      .execute((trx) =>
        outbox.enqueue(trx, { topic: "wake", key: "a", event: { type: "t", version: 1, payload: {} } }),
      );
    expect(published).toEqual([]);
    relay.wake();
    await eventually(() => published.length === 1, {
      timeoutMs: 2_000,
      message: "the woken relay to publish",
    });

    // A wake while a pass is running is not lost: a second pass follows.
    await store.db
      .transaction()
      .execute((trx) =>
        outbox.enqueue(trx, { topic: "wake", key: "b", event: { type: "t", version: 1, payload: {} } }),
      );
    relay.wake();
    relay.wake();
    await eventually(() => published.includes("b"), { timeoutMs: 2_000, message: "the second row" });
    expect(published).toEqual(["a", "b"]);
    await relay.stop();
    await bus.close();
    await store.close();
  });
});

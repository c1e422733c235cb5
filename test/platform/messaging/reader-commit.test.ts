import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  embeddedDriver,
  isMessagingError,
  jetStreamDriver,
  type LogDriver,
  type LogRecord,
  MemoryLogDriver,
  type StoredMessage,
} from "../../../src/platform/messaging/index.ts";
import { openStore, type Store } from "../../../src/platform/storage/index.ts";
import { SERVICES, serviceAvailable, uniqueName } from "../../support/services.ts";

const record = (i: number): LogRecord => ({
  id: `m${i}`,
  partition: 0,
  key: "k",
  type: "Test",
  version: 1,
  headers: {},
  data: JSON.stringify({ i }),
  publishedAt: 0,
});

const numbers = (messages: StoredMessage[]) =>
  messages.map((m) => ((m.parsed ? m.payload : JSON.parse(m.data)) as { i: number }).i);

/**
 * A consumer that checkpoints in the background (the analytics processor) reads on while a checkpoint is
 * saved, then commits the checkpoint's offset, which belongs to a batch before the one in hand.
 */
function commitsAnEarlierBatch(name: string, open: () => Promise<LogDriver>, skip = false) {
  describe.skipIf(skip)(`${name}: committing an offset of an earlier batch`, () => {
    it("moves the cursor to that offset, not past it", async () => {
      const driver = await open();
      const topic = uniqueName("reader-commit").replace(/[^A-Za-z0-9_-]/g, "_");
      await driver.declareTopic({ name: topic, partitions: 1 });
      await driver.append(topic, [1, 2, 3, 4].map(record));

      const first = await driver.openReader(topic, "g", 0);
      const one = await first.next(2);
      const two = await first.next(2);
      expect(numbers(one)).toEqual([1, 2]);
      expect(numbers(two)).toEqual([3, 4]);
      await first.commit(one[1]!.offset);
      await first.close();

      const second = await driver.openReader(topic, "g", 0);
      const again = await second.next(10);
      expect(numbers(again)).toEqual([3, 4]);
      await second.close();
    });
  });
}

/**
 * A caller that races next() with a timer and calls again must get an error, not a second cursor: the
 * messages go to the pending call (before the guard, the JetStream reader threw a TypeError or the first
 * call never settled, and the bench waiting for those messages hung).
 */
function oneReadAtATime(name: string, open: () => Promise<LogDriver>, skip = false) {
  describe.skipIf(skip)(`${name}: a next() while another is pending`, () => {
    it("is refused, and the pending call gets the messages", async () => {
      const driver = await open();
      const topic = uniqueName("reader-once").replace(/[^A-Za-z0-9_-]/g, "_");
      await driver.declareTopic({ name: topic, partitions: 1 });
      const reader = await driver.openReader(topic, "g", 0);
      const pending = reader.next(10);
      let refused: unknown;
      try {
        await reader.next(10);
      } catch (err) {
        refused = err;
      }
      expect(isMessagingError(refused) && refused.code).toBe("BWK_ERR_MESSAGING_READ_IN_PROGRESS");
      await driver.append(topic, [1, 2].map(record));
      // A driver may answer [] at first (it "waits briefly"); the messages come to the calls after it.
      const got = numbers(await pending);
      const deadline = Date.now() + 5_000;
      while (got.length < 2 && Date.now() < deadline) got.push(...numbers(await reader.next(10)));
      expect(got).toEqual([1, 2]);
      await reader.close();
    });
  });
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function openEmbedded(): Promise<LogDriver> {
  const dir = mkdtempSync(join(tmpdir(), "bwk-reader-commit-"));
  const store: Store = await openStore({ kind: "sqlite", file: join(dir, "bus.db") });
  const driver = await embeddedDriver({ store, pollMs: 10 });
  cleanups.push(async () => {
    await driver.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return driver;
}

async function openJetStream(): Promise<LogDriver> {
  const namespace = uniqueName("bwk").replace(/[^A-Za-z0-9_-]/g, "_");
  const driver = await jetStreamDriver({ servers: SERVICES.nats.url, namespace });
  cleanups.push(async () => {
    await driver.deleteNamespace();
    await driver.close();
  });
  return driver;
}

const natsDown = !(await serviceAvailable("nats"));

commitsAnEarlierBatch("embedded SQLite log", openEmbedded);
commitsAnEarlierBatch("NATS JetStream", openJetStream, natsDown);
oneReadAtATime("embedded SQLite log", openEmbedded);
oneReadAtATime("NATS JetStream", openJetStream, natsDown);
oneReadAtATime("in-memory log", async () => new MemoryLogDriver());

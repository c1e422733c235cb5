import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { embeddedDriver, type LogRecord, type StoredMessage } from "../../../src/platform/messaging/index.ts";
import { openStore, type Store } from "../../../src/platform/storage/index.ts";

const record = (i: number, data = JSON.stringify({ i, pad: "x".repeat(i) })): LogRecord => ({
  id: `m${i}`,
  partition: i % 3,
  key: `k${i % 3}`,
  type: "Test",
  version: 1,
  headers: { "x-n": String(i) },
  data,
  publishedAt: 1_000 + i,
});

const numbers = (messages: StoredMessage[]) =>
  messages.map((m) => ((m.parsed ? m.payload : JSON.parse(m.data)) as { i: number }).i);

async function readAll(store: Store, topic: string, partition: number): Promise<StoredMessage[]> {
  const driver = await embeddedDriver({ store, pollMs: 5 });
  const reader = await driver.openReader(topic, "g", partition);
  const messages = await reader.next(1_000);
  await reader.close();
  return messages;
}

/** A batch longer than one append statement (64 rows) goes in several, inside one transaction. */
describe("embedded log: appending a batch of many statements", () => {
  let dir: string;
  let writer: Store;
  let other: Store;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "bwk-append-"));
    writer = await openStore({ kind: "sqlite", file: join(dir, "log.db") });
    other = await openStore({ kind: "sqlite", file: join(dir, "log.db") });
  });
  afterEach(async () => {
    await writer.close();
    await other.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("stores every record in order, as another process reads it back from SQLite", async () => {
    const driver = await embeddedDriver({ store: writer });
    const topic = "append_many";
    await driver.declareTopic({ name: topic, partitions: 3 });
    const records = Array.from({ length: 150 }, (_, i) => record(i));
    await driver.append(topic, records);

    for (let p = 0; p < 3; p++) {
      const read = await readAll(other, topic, p);
      const expected = records.filter((r) => r.partition === p);
      expect(numbers(read)).toEqual(expected.map((r) => JSON.parse(r.data).i));
      expect(read.map((m) => m.headers)).toEqual(expected.map((r) => r.headers));
      expect(read.map((m) => m.publishedAt)).toEqual(expected.map((r) => r.publishedAt));
      const offsets = read.map((m) => m.offset);
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
    const { rows } = await sql<{ n: number; lo: number; hi: number }>`
      select count(*) as n, min(seq) as lo, max(seq) as hi from messaging_log`.execute(other.db);
    expect(rows[0]).toEqual({ n: 150, lo: rows[0]!.lo, hi: rows[0]!.lo + 149 });
  });

  it("is all or nothing: a bad record in the third statement leaves no row of the batch", async () => {
    const driver = await embeddedDriver({ store: writer });
    const topic = "append_atomic";
    await driver.declareTopic({ name: topic, partitions: 3 });
    const records = Array.from({ length: 150 }, (_, i) => (i === 140 ? record(i, "{not json") : record(i)));
    await expect(driver.append(topic, records)).rejects.toThrow(/json/i);

    const { rows } = await sql<{ n: number }>`select count(*) as n from messaging_log`.execute(other.db);
    expect(rows[0]!.n).toBe(0);
    await driver.append(topic, [record(1), record(2)]);
    expect(numbers(await readAll(other, topic, 1))).toEqual([1]);
  });
});

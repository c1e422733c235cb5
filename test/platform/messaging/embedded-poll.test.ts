import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { grownPartitions } from "../../../src/platform/messaging/embedded/embedded-driver.ts";
import { embeddedDriver, type LogRecord } from "../../../src/platform/messaging/index.ts";
import { openStore, type Store } from "../../../src/platform/storage/index.ts";
import { sqliteHandleOf } from "../../../src/platform/storage/store.ts";

const record = (i: number, partition: number): LogRecord => ({
  id: `m${i}`,
  partition,
  key: `k${partition}`,
  type: "Test",
  version: 1,
  headers: {},
  data: JSON.stringify({ i }),
  publishedAt: 1_000 + i,
});

/** Each driver polls the log every few ms for rows another process wrote; a poll must cost the new rows, not the log. */
describe("embedded log: the poll for rows other processes wrote", () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "bwk-poll-"));
    store = await openStore({ kind: "sqlite", file: join(dir, "log.db") });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reports each partition that grew after a seq with its newest seq", async () => {
    const driver = await embeddedDriver({ store });
    await driver.declareTopic({ name: "t", partitions: 3 });
    await driver.declareTopic({ name: "u", partitions: 1 });
    await driver.append("t", [record(1, 0), record(2, 1), record(3, 0)]);
    await driver.append("u", [record(4, 0)]);
    await driver.append("t", [record(5, 2), record(6, 0)]);

    const { rows } = await grownPartitions(3).execute(store.db);
    const grown = rows.map((r) => [r.topic, r.partition, r.top]).sort();
    expect(grown).toEqual([
      ["t", 0, 6],
      ["t", 2, 5],
      ["u", 0, 4],
    ]);
    await driver.close();
  });

  it("reads the rowid range after the seq, not the whole partition index", async () => {
    await embeddedDriver({ store }); // creates the log's tables and index
    const { sql, parameters } = grownPartitions(1_000).compile(store.db);
    const plan = sqliteHandleOf(store)!
      .raw.prepare(`explain query plan ${sql}`)
      .all(...(parameters as number[]))
      .map((row) => String((row as { detail: string }).detail));
    // Without NOT INDEXED SQLite plans "SCAN messaging_log USING COVERING INDEX messaging_log_partition".
    expect(plan.join(" | ")).toMatch(/SEARCH messaging_log USING INTEGER PRIMARY KEY \(rowid>\?\)/);
    expect(plan.join(" | ")).not.toMatch(/SCAN messaging_log/);
  });
});

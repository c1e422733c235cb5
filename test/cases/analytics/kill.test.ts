import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { PROCESSOR_GROUP } from "../../../src/cases/analytics/events.ts";
import { batchOf } from "../../../src/cases/analytics/feed/index.ts";
import { CheckpointStore } from "../../../src/cases/analytics/processor/index.ts";
import { eventually } from "../../support/services.ts";
import {
  compareWindows,
  expectedWindows,
  lagOf,
  profiles,
  seededTrades,
  storedWindows,
  systemsOfThisFile,
} from "./processor-harness.ts";

const bin = new URL("../../../bin/bulwark.js", import.meta.url).pathname;
const systems = systemsOfThisFile();
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

/** `bulwark serve analytics:processor` as a child process; resolves once it printed its ready line. */
async function serveProcessor(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [bin, "serve", "analytics:processor"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => {
    err += d;
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      if (out.includes('"ready":true')) resolve();
    });
    child.on("exit", (code) =>
      reject(new Error(`processor exited (${code}) before ready: ${err.slice(-2000)}`)),
    );
  });
  return child;
}

describe.each(await profiles())("analytics processor SIGKILL (%s)", (profile) => {
  it("a processor killed mid-stream is replaced by one that restores the checkpoint, and the windows are exact", {
    timeout: 120_000,
  }, async () => {
    const env = systems.env(profile, { BULWARK_LOG_LEVEL: "error" });
    const ingest = await systems.node(env, ["ingest"]);
    const checkpoints = new CheckpointStore(ingest.rt.store);
    const trades = seededTrades(30_000, 23);
    const publish = async (from: number, to: number) => {
      for (let i = from; i < to; i += 500) {
        await ingest.analytics.publisher.publish(batchOf(trades.slice(i, Math.min(to, i + 500))));
      }
    };
    const first = await serveProcessor(env);
    await publish(0, 10_000);
    // Kill only once every partition has a checkpoint mid-stream, while more trades keep coming.
    await eventually(
      async () => {
        const rows = await checkpoints.read(PROCESSOR_GROUP);
        return rows.length === 4 && rows.every((r) => r.source_offset >= 0);
      },
      { timeoutMs: 30_000, message: "checkpoints of the first processor" },
    );
    const publishing = publish(10_000, 20_000);
    first.kill("SIGKILL");
    await publishing;
    const atKill = await checkpoints.read(PROCESSOR_GROUP);
    await publish(20_000, 30_000);

    await serveProcessor(env);
    const expected = expectedWindows(trades, 4);
    let problems: string[] = [];
    await eventually(
      async () => {
        problems = compareWindows(await storedWindows(ingest.analytics), expected);
        return problems.length === 0;
      },
      { timeoutMs: 60_000, intervalMs: 250, message: "stored windows to match" },
    ).catch(() => expect(problems.slice(0, 10)).toEqual([]));
    await eventually(async () => (await lagOf(ingest)) === 0, { timeoutMs: 30_000, message: "lag 0" });
    const after = await checkpoints.read(PROCESSOR_GROUP);
    // The second processor claimed every partition anew and resumed from the first one's checkpoints.
    for (const row of after) {
      const before = atKill.find((r) => r.partition_id === row.partition_id)!;
      expect(row.epoch).toBeGreaterThan(before.epoch);
      expect(row.owner).not.toBe(before.owner);
      expect(row.source_offset).toBeGreaterThan(before.source_offset);
    }
  });
});

import { describe, expect, it } from "vitest";
import { batchOf } from "../../../src/cases/analytics/feed/index.ts";
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

const systems = systemsOfThisFile();

describe.each(await profiles())("analytics processor rescale (%s)", (profile) => {
  it("splits the partitions when a second instance joins, takes them all back when one stops, and the windows stay exact", async () => {
    const env = systems.env(profile);
    const a = await systems.node(env, ["ingest", "processor"], "proc-a");
    const trades = seededTrades(18_000, 11);
    const publish = async (from: number, to: number) => {
      for (let i = from; i < to; i += 1_000) {
        await a.analytics.publisher.publish(batchOf(trades.slice(i, Math.min(to, i + 1_000))));
      }
      await eventually(async () => (await lagOf(a)) === 0, { timeoutMs: 30_000, message: "lag 0" });
    };
    await eventually(() => a.analytics.processor!.partitions().length === 4, { message: "a holds all" });
    await publish(0, 6_000);

    const b = await systems.node(env, ["processor"], "proc-b");
    await eventually(
      () =>
        a.analytics.processor!.partitions().length === 2 && b.analytics.processor!.partitions().length === 2,
      { timeoutMs: 30_000, message: "two instances with two partitions each" },
    );
    await publish(6_000, 12_000);
    const owners = new Set((await a.analytics.processor!.checkpoints()).map((c) => c.owner));
    expect(owners).toEqual(new Set(["proc-a", "proc-b"]));

    await a.analytics.processor!.stop();
    await eventually(() => b.analytics.processor!.partitions().length === 4, {
      timeoutMs: 30_000,
      message: "b takes over every partition",
    });
    await publish(12_000, 18_000);

    const expected = expectedWindows(trades, 4);
    let problems: string[] = [];
    await eventually(
      async () => {
        problems = compareWindows(await storedWindows(b.analytics), expected);
        return problems.length === 0;
      },
      { timeoutMs: 30_000, intervalMs: 200, message: "stored windows to match" },
    ).catch(() => expect(problems.slice(0, 10)).toEqual([]));
  });
});

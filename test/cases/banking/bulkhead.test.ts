import { afterAll, afterEach, describe, expect, it } from "vitest";
import { BANKING_ROLES } from "../../../src/cases/banking/system.ts";
import { storeTargets } from "../../support/stores.ts";
import { failureFlags, percentile } from "./cascade-support.ts";
import { bankingHarness } from "./system-harness.ts";

/**
 * A slow history service must not slow balance calls: both go out of the gateway's process, history through its
 * own bulkhead. Open-loop load on history and on balances through the gateway; history then gets 1 s of latency.
 * Balance latency is compared with the baseline of the same run. The contrast run is the "before" wiring (one
 * shared pool, no timeouts), where the slow history calls take the slots balance calls need.
 *
 * Embedded profile only: the bulkheads live in the process; the store under the services does not change them.
 */

const BASELINE_MS = 3_000;
const SLOW_MS = 4_000;
const RATES = { history: 80, balance: 20 } as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

async function openLoop(ratePerSec: number, durationMs: number, fire: () => Promise<void>) {
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; ; i++) {
    const at = start + (i * 1000) / ratePerSec;
    if (at - start >= durationMs) break;
    await sleep(at - performance.now());
    pending.push(fire());
  }
  await Promise.all(pending);
}

const targets = (await storeTargets()).filter((t) => t.name === "sqlite");

describe.each(targets)("bulkheads on $name", (target) => {
  const harness = bankingHarness(target);
  afterEach(() => harness.stopAll());
  afterAll(() => target.cleanup());

  async function run(bulkheads: boolean) {
    const flags = failureFlags();
    const sys = await harness.start(
      {
        patterns: { bulkheads, timeouts: bulkheads },
        rateLimit: { perSecond: 10_000, burst: 10_000 },
      },
      { roles: BANKING_ROLES, extensions: flags.extensions },
    );
    const alice = await sys.customer("alice", [{ id: "alice-main", balanceCents: 10_000 }]);
    const token = await sys.tokenFor(alice);
    const api = sys.urls.gateway!;
    const headers = { authorization: `Bearer ${token}` };
    for (let i = 0; i < 20; i++) {
      await (await fetch(`${api}/api/accounts/alice-main/balance`, { headers })).arrayBuffer();
      await (await fetch(`${api}/api/accounts/alice-main/transactions`, { headers })).arrayBuffer();
    }
    let slow = false;
    const baseline: number[] = [];
    const during: number[] = [];
    const failedBalances: number[] = [];
    const timeline = (async () => {
      await sleep(BASELINE_MS);
      slow = true;
      flags
        .of("history")
        .set("slow", { route: "/accounts/:id/transactions", fault: { kind: "delay", ms: 1_000 } });
    })();
    const total = BASELINE_MS + SLOW_MS;
    await Promise.all([
      timeline,
      openLoop(RATES.history, total, async () => {
        const res = await fetch(`${api}/api/accounts/alice-main/transactions`, {
          headers,
          signal: AbortSignal.timeout(5_000),
        }).catch(() => undefined);
        await res?.arrayBuffer().catch(() => undefined);
      }),
      openLoop(RATES.balance, total, async () => {
        const inSlow = slow;
        const t0 = performance.now();
        const res = await fetch(`${api}/api/accounts/alice-main/balance`, {
          headers,
          signal: AbortSignal.timeout(5_000),
        }).catch(() => undefined);
        await res?.arrayBuffer().catch(() => undefined);
        const ms = res ? performance.now() - t0 : 5_000;
        if (res?.status !== 200) failedBalances.push(res?.status ?? 0);
        (inSlow ? during : baseline).push(ms);
      }),
    ]);
    flags.of("history").clear();
    await harness.stopAll();
    const stats = (xs: number[]) => ({ p50: percentile(xs, 50), p99: percentile(xs, 99), n: xs.length });
    return { baseline: stats(baseline), slow: stats(during), failedBalances };
  }

  it("keeps balance latency when history is slow (own bulkhead); the shared pool does not", async () => {
    const on = await run(true);
    const off = await run(false);
    const f = (x: { p50: number; p99: number; n: number }) =>
      `p50 ${x.p50.toFixed(1)} ms, p99 ${x.p99.toFixed(1)} ms (n=${x.n})`;
    console.log(
      [
        `bulkhead (${target.name}): open loop history ${RATES.history}/s, balance ${RATES.balance}/s via the gateway; history +1 s after ${BASELINE_MS / 1000} s`,
        `  bulkheads on:  baseline ${f(on.baseline)} | history slow ${f(on.slow)} | failed balances ${on.failedBalances.length}`,
        `  shared pool:   baseline ${f(off.baseline)} | history slow ${f(off.slow)} | failed balances ${off.failedBalances.length}`,
      ].join("\n"),
    );
    // "Beyond noise": twice the baseline plus a fixed allowance (5 ms at p50, 50 ms at p99) for a loaded 2-core
    // machine running the load generator and five services in one process.
    expect(on.failedBalances).toEqual([]);
    expect(on.slow.p50).toBeLessThanOrEqual(on.baseline.p50 * 2 + 5);
    expect(on.slow.p99).toBeLessThanOrEqual(on.baseline.p99 * 2 + 50);
    // The contrast: without per-downstream bulkheads the slow history takes the pool, and balances wait.
    expect(off.slow.p50).toBeGreaterThan(on.slow.p50 + 100);
  }, 90_000);
});

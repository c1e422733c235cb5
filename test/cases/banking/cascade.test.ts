import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { checkBanking } from "../../../src/cases/banking/checker.ts";
import type { BankingConfig } from "../../../src/cases/banking/config.ts";
import { BANKING_ROLES } from "../../../src/cases/banking/system.ts";
import { openStore } from "../../../src/platform/storage/index.ts";
import { storeTargets } from "../../support/stores.ts";
import { failureFlags, percentile } from "./cascade-support.ts";
import { bankingHarness } from "./system-harness.ts";

/**
 * The seed article's cascade, reproduced: steady open-loop load (requests leave at a fixed rate whether or not
 * earlier ones answered, as real users do) on /mobile/home and /transfers through the gateway, and on
 * /accounts/:id/balance; auth gets 2 s of latency, then stops. Once with every pattern on, once with every
 * pattern off, side by side.
 */

const PHASES = [
  { name: "healthy", ms: 2_000 },
  { name: "auth +2s", ms: 4_000 },
  { name: "auth down", ms: 4_000 },
] as const;
type Phase = (typeof PHASES)[number]["name"];
/**
 * Each /mobile/home is about 14 HTTP requests inside the process (gateway, BFF, profile, two balances, two
 * histories, and a token check at each hop), all in this one Node process on a shared 2-core machine: these
 * rates keep the healthy system well below saturation, so what the run measures is auth's failure.
 */
const RATES = { home: 20, transfer: 5, balance: 20 } as const;
/** A request without an answer after this long counts as hung. */
const CLIENT_WAIT_MS = 3_000;
const CUSTOMERS = 10;
/**
 * The issue's promise for /accounts/:id/balance p99 while auth fails, asserted as stated. This file runs in the
 * "timing" project (alone, after every other suite), so the crash tests' load can't land in its tail.
 */
const BALANCE_P99_PROMISE_MS = 100;

interface Sample {
  kind: keyof typeof RATES;
  phase: Phase;
  status: number;
  ms: number;
  degraded: boolean;
  /** The problem type of a 5xx answer (who refused: load shedding, a breaker, a timeout). */
  problem?: string;
}

const ALL = (on: boolean): BankingConfig["patterns"] => ({
  timeouts: on,
  breakers: on,
  fallbacks: on,
  bulkheads: on,
  retryBudget: on,
  rateLimit: on,
  loadShedding: on,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Fires `fire` at a fixed rate for `durationMs`, never waiting for answers (open loop); resolves when all settle. */
async function openLoop(ratePerSec: number, durationMs: number, fire: (i: number) => Promise<void>) {
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; ; i++) {
    const at = start + (i * 1000) / ratePerSec;
    if (at - start >= durationMs) break;
    await sleep(at - performance.now());
    pending.push(fire(i));
  }
  await Promise.all(pending);
}

async function timed(
  kind: Sample["kind"],
  phase: () => Phase,
  send: (signal: AbortSignal) => Promise<Response>,
) {
  const sentIn = phase();
  const t0 = performance.now();
  try {
    const res = await send(AbortSignal.timeout(CLIENT_WAIT_MS));
    let degraded = false;
    let problem: string | undefined;
    if (kind === "home" && res.status === 200) {
      degraded = ((await res.json()) as { degraded: unknown[] }).degraded.length > 0;
    } else if (res.status >= 500) {
      const body = (await res.json().catch(() => ({}))) as { type?: string; detail?: string };
      problem = `${body.type?.replace(/.*\//, "")}: ${body.detail}`;
    } else {
      await res.arrayBuffer();
    }
    const ms = performance.now() - t0;
    return { kind, phase: sentIn, status: res.status, ms, degraded, ...(problem ? { problem } : {}) };
  } catch {
    return { kind, phase: sentIn, status: 0, ms: performance.now() - t0, degraded: false };
  }
}

interface RunResult {
  /** Event-loop delay of this one process (load generator and every service) during the run: p99 / max, ms. */
  lag: string;
  samples: Sample[];
  checkOk: boolean;
  checkDetail: string;
}

interface Figures {
  homeGood: number;
  homeCount: number;
  homeP50: number;
  homeP99: number;
  home5xxOrHung: number;
  homeDegraded: number;
  transfersOk: number;
  transferCount: number;
  balanceP50: number;
  balanceP99: number;
  balanceOk: number;
  balanceCount: number;
}

function figures(samples: Sample[]): Figures {
  const of = (kind: Sample["kind"]) => samples.filter((s) => s.kind === kind);
  const home = of("home");
  const transfers = of("transfer");
  const balance = of("balance");
  const good = (s: Sample) => s.status !== 0 && s.status < 500 && s.ms <= 1_000;
  return {
    homeGood: home.filter(good).length / home.length,
    homeCount: home.length,
    homeP50: percentile(
      home.map((s) => s.ms),
      50,
    ),
    homeP99: percentile(
      home.map((s) => s.ms),
      99,
    ),
    home5xxOrHung: home.filter((s) => s.status === 0 || s.status >= 500).length,
    homeDegraded: home.filter((s) => s.degraded).length,
    transfersOk: transfers.filter((s) => s.status === 201).length,
    transferCount: transfers.length,
    balanceP50: percentile(
      balance.map((s) => s.ms),
      50,
    ),
    balanceP99: percentile(
      balance.map((s) => s.ms),
      99,
    ),
    balanceOk: balance.filter((s) => s.status === 200).length,
    balanceCount: balance.length,
  };
}

function statuses(samples: Sample[]): string {
  return (["home", "transfer", "balance"] as const)
    .map((kind) => {
      const counts = new Map<number, number>();
      for (const s of samples) if (s.kind === kind) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
      return `${kind} ${[...counts].map(([status, n]) => `${status || "hung"}×${n}`).join(" ")}`;
    })
    .join("; ");
}

function worst(samples: Sample[], kind: Sample["kind"]): string {
  return samples
    .filter((s) => s.kind === kind)
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 12)
    .map((s) => `${s.status}/${s.ms.toFixed(0)}ms/${s.phase}`)
    .join(" ");
}

function perPhase(samples: Sample[]): string {
  return PHASES.map(({ name }) => {
    const home = samples.filter((s) => s.kind === "home" && s.phase === name);
    const bad = home.filter((s) => s.status === 0 || s.status >= 500 || s.ms > 1_000).length;
    const p99 = percentile(
      home.map((s) => s.ms),
      99,
    );
    return `${name}: home bad ${bad}/${home.length}, p99 ${p99.toFixed(0)} ms`;
  }).join(" | ");
}

const targets = await storeTargets();

describe.each(targets)("cascade on $name", (target) => {
  const harness = bankingHarness(target);
  afterEach(() => harness.stopAll());
  afterAll(() => target.cleanup());

  async function run(on: boolean): Promise<RunResult> {
    const flags = failureFlags();
    // The app's default pool (10), not the suites' small one: the services share it here.
    const config = target.config();
    const store = await openStore(config.kind === "postgres" ? { ...config, poolSize: 10 } : config);
    const sys = await harness.start(
      { patterns: ALL(on), rateLimit: { perSecond: 1_000, burst: 1_000 } },
      { roles: BANKING_ROLES, extensions: flags.extensions, store },
    );
    const customers: Array<{ customerId: string; token: string }> = [];
    for (let c = 0; c < CUSTOMERS; c++) {
      const customer = await sys.customer(`cust-${c}`, [
        { id: `acc-${c}-a`, balanceCents: 1_000_000 },
        { id: `acc-${c}-b`, balanceCents: 1_000_000 },
      ]);
      customers.push({ ...customer, token: await sys.tokenFor(customer) });
    }
    const api = sys.urls.gateway!;
    // Warm-up, not measured: JIT, connection pools, the BFF's profile cache, the authenticators' keys, on every
    // route the run measures (a cold route's first calls would otherwise count as the healthy phase's tail).
    for (const c of customers) {
      const n = customers.indexOf(c);
      for (let i = 0; i < 3; i++) {
        const auth = { authorization: `Bearer ${c.token}` };
        const home = await fetch(`${api}/api/mobile/home`, { headers: auth });
        expect(home.status).toBe(200);
        await home.arrayBuffer();
        const balance = await fetch(`${sys.urls.accounts}/accounts/acc-${n}-a/balance`, { headers: auth });
        expect(balance.status).toBe(200);
        await balance.arrayBuffer();
        const transfer = await fetch(`${api}/api/transfers`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json", "idempotency-key": `warm-${on}-${n}-${i}` },
          body: JSON.stringify({ fromAccountId: `acc-${n}-b`, toAccountId: `acc-${n}-a`, amountCents: 1 }),
        });
        expect(transfer.status).toBe(201);
        await transfer.arrayBuffer();
      }
    }
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    let phase: Phase = "healthy";
    const samples: Sample[] = [];
    const record = (s: Sample) => {
      samples.push(s);
    };
    const total = PHASES.reduce((sum, p) => sum + p.ms, 0);
    const timeline = (async () => {
      await sleep(PHASES[0].ms);
      phase = "auth +2s";
      flags.of("auth").set("slow", { route: "*", fault: { kind: "delay", ms: 2_000 } });
      await sleep(PHASES[1].ms);
      phase = "auth down";
      void sys.banking.running.auth!.stop();
    })();
    const now = () => phase;
    await Promise.all([
      timeline,
      openLoop(RATES.home, total, async (i) => {
        const c = customers[i % CUSTOMERS]!;
        record(
          await timed("home", now, (signal) =>
            fetch(`${api}/api/mobile/home`, { headers: { authorization: `Bearer ${c.token}` }, signal }),
          ),
        );
      }),
      openLoop(RATES.transfer, total, async (i) => {
        const c = customers[i % CUSTOMERS]!;
        const to = `acc-${(i + 1) % CUSTOMERS}-a`;
        record(
          await timed("transfer", now, (signal) =>
            fetch(`${api}/api/transfers`, {
              method: "POST",
              headers: {
                authorization: `Bearer ${c.token}`,
                "content-type": "application/json",
                "idempotency-key": `cascade-${on}-${i}`,
              },
              body: JSON.stringify({
                fromAccountId: `acc-${i % CUSTOMERS}-b`,
                toAccountId: to,
                amountCents: 1 + (i % 97),
              }),
              signal,
            }),
          ),
        );
      }),
      openLoop(RATES.balance, total, async (i) => {
        const c = customers[i % CUSTOMERS]!;
        record(
          await timed("balance", now, (signal) =>
            fetch(`${sys.urls.accounts}/accounts/acc-${i % CUSTOMERS}-a/balance`, {
              headers: { authorization: `Bearer ${c.token}` },
              signal,
            }),
          ),
        );
      }),
    ]);
    lag.disable();
    const check = await checkBanking(sys.store);
    return {
      lag: `${(lag.percentile(99) / 1e6).toFixed(0)} / ${(lag.max / 1e6).toFixed(0)} ms`,
      samples,
      checkOk: check.ok,
      checkDetail: `${check.transfers} transfers, ${check.violationCount} violations`,
    };
  }

  it("keeps /mobile/home answering and balances fast with every pattern on; shows the cascade with them off", async () => {
    const on = await run(true);
    await harness.stopAll();
    const off = await run(false);
    const a = figures(on.samples);
    const b = figures(off.samples);
    const row = (label: string, x: string, y: string) =>
      `  ${label.padEnd(38)} ${x.padStart(16)} ${y.padStart(16)}`;
    const pct = (v: number) => `${(v * 100).toFixed(2)} %`;
    const ms = (v: number) => `${v.toFixed(0)} ms`;
    console.log(
      [
        `cascade (${target.name}): open loop home ${RATES.home}/s, transfers ${RATES.transfer}/s, balance ${RATES.balance}/s; ` +
          PHASES.map((p) => `${p.name} ${p.ms / 1000} s`).join(", "),
        row("", "patterns on", "patterns off"),
        row("/mobile/home non-5xx within 1 s", pct(a.homeGood), pct(b.homeGood)),
        row("/mobile/home requests", String(a.homeCount), String(b.homeCount)),
        row("/mobile/home 5xx or no answer in 3 s", String(a.home5xxOrHung), String(b.home5xxOrHung)),
        row("/mobile/home degraded answers", String(a.homeDegraded), String(b.homeDegraded)),
        row(
          "/mobile/home p50 / p99",
          `${ms(a.homeP50)} / ${ms(a.homeP99)}`,
          `${ms(b.homeP50)} / ${ms(b.homeP99)}`,
        ),
        row(
          "/accounts/:id/balance p50 / p99",
          `${ms(a.balanceP50)} / ${ms(a.balanceP99)}`,
          `${ms(b.balanceP50)} / ${ms(b.balanceP99)}`,
        ),
        row(
          "/accounts/:id/balance 200s",
          `${a.balanceOk}/${a.balanceCount}`,
          `${b.balanceOk}/${b.balanceCount}`,
        ),
        row("/transfers 201s", `${a.transfersOk}/${a.transferCount}`, `${b.transfersOk}/${b.transferCount}`),
        row("event-loop delay p99 / max", on.lag, off.lag),
        row(
          `balance p99 < ${BALANCE_P99_PROMISE_MS} ms promise`,
          a.balanceP99 < BALANCE_P99_PROMISE_MS ? "met" : "NOT met",
          b.balanceP99 < BALANCE_P99_PROMISE_MS ? "met" : "NOT met",
        ),
        row("banking checker", on.checkOk ? "ok" : "FAILED", off.checkOk ? "ok" : "FAILED"),
        `  on:  ${perPhase(on.samples)}`,
        `  off: ${perPhase(off.samples)}`,
        `  checker on: ${on.checkDetail}; off: ${off.checkDetail}`,
        `  statuses on:  ${statuses(on.samples)}`,
        `  statuses off: ${statuses(off.samples)}`,
        `  slowest home on: ${worst(on.samples, "home")}`,
        `  slowest balance on: ${worst(on.samples, "balance")}`,
        `  5xx on: ${[...new Set(on.samples.flatMap((x) => (x.problem ? [`${x.kind} ${x.phase} ${x.problem}`] : [])))].join(" | ")}`,
      ].join("\n"),
    );
    // The product's promise, as the issue states it.
    expect(a.homeGood, "share of /mobile/home answered non-5xx within 1 s").toBeGreaterThanOrEqual(0.999);
    expect(a.balanceP99, "balance p99 (ms)").toBeLessThan(BALANCE_P99_PROMISE_MS);
    expect(on.checkOk, on.checkDetail).toBe(true);
    expect(a.transfersOk, "transfers kept working while auth was slow and down").toBeGreaterThan(
      a.transferCount * 0.95,
    );
    // The "before" architecture cascades: clearly worse on every figure.
    expect(b.homeGood).toBeLessThan(a.homeGood - 0.3);
    expect(b.balanceP99).toBeGreaterThan(1_000);
    expect(off.checkOk, off.checkDetail).toBe(true);
  }, 120_000);
});

import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { MobileHome } from "../../../src/cases/banking/mobile/mobile-service.ts";
import { BANKING_ROLES } from "../../../src/cases/banking/system.ts";
import type { Service } from "../../../src/platform/http/index.ts";
import { storeTargets } from "../../support/stores.ts";
import { failureFlags } from "./cascade-support.ts";
import { bankingHarness } from "./system-harness.ts";

const targets = await storeTargets();

describe.each(targets)("mobile BFF on $name", (target) => {
  const harness = bankingHarness(target);
  afterEach(() => harness.stopAll());
  afterAll(() => target.cleanup());

  async function world(overrides: Record<string, unknown> = {}) {
    const flags = failureFlags();
    const sys = await harness.start(overrides, { roles: BANKING_ROLES, extensions: flags.extensions });
    const alice = await sys.customer("alice", [
      { id: "alice-main", balanceCents: 10_000 },
      { id: "alice-save", balanceCents: 50_000 },
    ]);
    await sys.customer("bob", [{ id: "bob-main", balanceCents: 1_000 }]);
    const token = await sys.tokenFor(alice);
    expect(
      (await sys.transfer(token, { fromAccountId: "alice-main", toAccountId: "bob-main", amountCents: 250 }))
        .status,
    ).toBe(201);
    const home = (headers: Record<string, string> = { authorization: `Bearer ${token}` }) =>
      fetch(`${sys.urls.mobile}/mobile/home`, { headers });
    return { sys, token, home, flags };
  }

  it("aggregates profile, balances and recent transactions", async () => {
    const { home } = await world();
    const res = await home();
    expect(res.status).toBe(200);
    const body = (await res.json()) as MobileHome;
    expect(body.customer).toEqual({ customerId: "alice", name: "Customer alice" });
    expect(body.balances).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ accountId: "alice-main", balanceCents: 9_750 }),
        expect.objectContaining({ accountId: "alice-save", balanceCents: 50_000 }),
      ]),
    );
    expect(body.transactions?.items).toHaveLength(1);
    expect(body.transactions?.items[0]).toMatchObject({
      amountCents: -250,
      counterpartyAccountId: "bob-main",
    });
    expect(body.degraded).toEqual([]);
  });

  it("answers 401 without a valid token", async () => {
    const { home } = await world();
    expect((await home({})).status).toBe(401);
    expect((await home({ authorization: "Bearer not-a-token" })).status).toBe(401);
  });

  it("omits transactions when history is down, and serves stale balances when accounts is down", async () => {
    const { sys, home } = await world();
    expect((await home()).status).toBe(200); // warms the last-known caches
    await sys.banking.running.history!.stop();
    const noHistory = await home();
    expect(noHistory.status).toBe(200);
    const a = (await noHistory.json()) as MobileHome;
    expect(a.transactions).toBeNull();
    expect(a.degraded).toEqual([{ section: "transactions", reason: expect.any(String) }]);
    expect(a.balances.every((b: { stale?: boolean }) => b.stale === undefined)).toBe(true);

    await sys.banking.running.accounts!.stop();
    const noAccounts = await home();
    expect(noAccounts.status).toBe(200);
    const b = (await noAccounts.json()) as MobileHome;
    expect(b.balances).toHaveLength(2);
    for (const balance of b.balances)
      expect(balance).toMatchObject({ stale: true, asOf: expect.any(String) });
    expect(b.degraded).toEqual(
      expect.arrayContaining([
        { section: "balances", reason: "stale" },
        { section: "transactions", reason: expect.any(String) },
      ]),
    );
  });

  it("fails instead of degrading with fallbacks off", async () => {
    // Without fallbacks every service checks each token online, within authCheckTimeoutMs (50 ms by default).
    // On a busy machine that check alone missed its deadline, and the healthy call before history stops got
    // 503 "status-503". What this test is about is history's failure, so the check gets room here.
    const { sys, home } = await world({ patterns: { fallbacks: false }, authCheckTimeoutMs: 2_000 });
    const before = await home();
    // The problem body names the failed section, should a dependency fail here already.
    expect(before.status, await before.text()).toBe(200);
    await sys.banking.running.history!.stop();
    const res = await home();
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
  });

  it("answers within the deadline with the late section named, when history is slow", async () => {
    const { flags, home } = await world({ mobileDeadlineMs: 300, callTimeoutMs: 2_000 });
    // History answers only after the BFF's deadline.
    flags
      .of("history")
      .set("slow", { route: "/accounts/:id/transactions", fault: { kind: "delay", ms: 1_000 } });
    const t0 = performance.now();
    const res = await home();
    const took = performance.now() - t0;
    expect(res.status).toBe(200);
    const body = (await res.json()) as MobileHome;
    expect(body.transactions).toBeNull();
    expect(body.degraded).toEqual([
      { section: "transactions", reason: expect.stringMatching(/timeout|deadline/) },
    ]);
    // 300 ms deadline; the headroom is for a loaded 2-core machine.
    expect(took).toBeLessThan(800);
  });

  it("passes its remaining deadline down: each hop gets less than its caller had", async () => {
    const seen: Record<string, number[]> = {};
    const recordDeadlines = (service: Service) => {
      service.app.addHook("onRequest", async (request) => {
        const value = request.headers["x-deadline-ms"];
        const key = service.name === "auth" ? `auth ${request.url.split("?")[0]}` : service.name;
        if (typeof value !== "string") return;
        seen[key] ??= [];
        seen[key].push(Number(value));
      });
    };
    const sys = await harness.start(
      { mobileDeadlineMs: 600, callTimeoutMs: 300 },
      { roles: BANKING_ROLES, extensions: [recordDeadlines] },
    );
    const alice = await sys.customer("alice", [{ id: "alice-main", balanceCents: 100 }]);
    const token = await sys.tokenFor(alice);
    const res = await fetch(`${sys.urls.gateway}/api/mobile/home`, {
      headers: { authorization: `Bearer ${token}`, "x-deadline-ms": "500" },
    });
    expect(res.status).toBe(200);
    // The caller's 500 ms is tighter than the BFF's own 600: the BFF works to it, minus what was spent.
    expect(Math.max(...(seen.mobile ?? []))).toBeLessThanOrEqual(490);
    for (const callee of ["accounts", "history"]) {
      expect(seen[callee]?.length, callee).toBeGreaterThan(0);
      expect(Math.max(...seen[callee]!), callee).toBeLessThan(Math.max(...seen.mobile!));
    }
    // Token checks get their own short budget, whatever the caller had.
    expect(Math.max(...seen["auth /introspect"]!)).toBeLessThanOrEqual(50);
  });
});

import { afterAll, afterEach, describe, expect, it } from "vitest";
import { BANKING_ROLES } from "../../../src/cases/banking/system.ts";
import type { Service } from "../../../src/platform/http/index.ts";
import { eventually } from "../../support/services.ts";
import { storeTargets } from "../../support/stores.ts";
import { bankingHarness, post } from "./system-harness.ts";

const targets = await storeTargets();

describe.each(targets)("gateway on $name", (target) => {
  const harness = bankingHarness(target);
  afterEach(() => harness.stopAll());
  afterAll(() => target.cleanup());

  async function world(overrides: Record<string, unknown> = {}) {
    const sys = await harness.start(overrides, { roles: BANKING_ROLES });
    const alice = await sys.customer("alice", [{ id: "alice-main", balanceCents: 10_000 }]);
    await sys.customer("bob", [{ id: "bob-main", balanceCents: 1_000 }]);
    const api = sys.urls.gateway!;
    const tokenRes = await post(`${api}/api/token`, {
      clientId: alice.clientId,
      clientSecret: alice.clientSecret,
    });
    expect(tokenRes.status).toBe(200);
    const token = ((await tokenRes.json()) as { access_token: string }).access_token;
    const get = (path: string, t = token) =>
      fetch(`${api}${path}`, { headers: t ? { authorization: `Bearer ${t}` } : {} });
    return { sys, api, token, get };
  }

  it("routes every API to its service behind the token check", async () => {
    const { api, token, get } = await world();
    const balance = await get("/api/accounts/alice-main/balance");
    expect(balance.status).toBe(200);
    expect(await balance.json()).toMatchObject({ accountId: "alice-main", balanceCents: 10_000 });

    const headers = { authorization: `Bearer ${token}`, "idempotency-key": "gw-transfer-1" };
    const body = { fromAccountId: "alice-main", toAccountId: "bob-main", amountCents: 300 };
    const first = await post(`${api}/api/transfers`, body, headers);
    expect(first.status).toBe(201);
    const replay = await post(`${api}/api/transfers`, body, headers);
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    const idOf = async (r: Response) => ((await r.json()) as { transferId: string }).transferId;
    expect(await idOf(replay)).toBe(await idOf(first));

    const history = await get("/api/accounts/alice-main/transactions?limit=5");
    expect(history.status).toBe(200);
    expect(((await history.json()) as { items: unknown[] }).items).toHaveLength(1);

    const home = await get("/api/mobile/home");
    expect(home.status).toBe(200);
    expect(await home.json()).toMatchObject({ customer: { customerId: "alice" }, degraded: [] });

    // The owner check still happens behind the gateway.
    expect((await get("/api/accounts/bob-main/balance")).status).toBe(403);
  });

  it("refuses a missing or forged token with 401 at the edge", async () => {
    const { get } = await world();
    const missing = await get("/api/accounts/alice-main/balance", "");
    expect(missing.status).toBe(401);
    expect(missing.headers.get("content-type")).toContain("application/problem+json");
    expect((await get("/api/mobile/home", "eyJhbGciOiJub25lIn0.e30.")).status).toBe(401);
  });

  it("answers a dead downstream with a problem, at once, not a hang", async () => {
    const { sys, get } = await world();
    await sys.banking.running.history!.stop();
    const t0 = performance.now();
    const res = await get("/api/accounts/alice-main/transactions");
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect([502, 503]).toContain(res.status);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
  });

  it("keeps every service ready without auth, and still serves balances (local token check)", async () => {
    const { sys, get } = await world();
    expect((await get("/api/mobile/home")).status).toBe(200); // the BFF learns the profile
    await sys.banking.running.auth!.stop();
    for (const role of ["accounts", "history", "mobile", "gateway"] as const) {
      const ready = await fetch(`${sys.urls[role]}/health/ready`);
      expect(ready.status, `${role} readiness without auth`).toBe(200);
    }
    const balance = await get("/api/accounts/alice-main/balance");
    expect(balance.status).toBe(200);
    const home = await get("/api/mobile/home");
    expect(home.status).toBe(200);
    const body = (await home.json()) as { degraded: Array<{ section: string }> };
    expect(body.degraded).toContainEqual({ section: "customer", reason: "stale" });
    const metrics = await (await fetch(`${sys.urls.accounts}/metrics`)).text();
    expect(metrics).toMatch(/bulwark_banking_token_checks_total\{how="local"\} [1-9]/);
    expect(metrics).toMatch(
      /bulwark_banking_mobile_degraded_sections_total\{section="customer",reason="stale"\} [1-9]/,
    );
  });

  it("sheds load with 503 + Retry-After while its event loop lags, and recovers", async () => {
    if (target.name !== "sqlite") return; // the event loop is the process's, whatever the store
    const { get } = await world({ loadShedLagMs: 100 });
    let shed: Response | undefined;
    const deadline = Date.now() + 10_000;
    while (!shed && Date.now() < deadline) {
      // Block this process's event loop (gateway included) well past the threshold.
      const until = performance.now() + 300;
      while (performance.now() < until) {}
      await new Promise((r) => setTimeout(r, 50)); // the overdue sampler runs first and sees the stall
      const res = await get("/api/accounts/alice-main/balance");
      if (res.status === 503) shed = res;
      else await res.arrayBuffer();
    }
    expect(shed, "a request was shed").toBeDefined();
    expect(shed!.headers.get("retry-after")).toBe("1");
    expect(((await shed!.json()) as { type: string }).type).toBe("https://bulwark.dev/problems/overloaded");
    await eventually(async () => (await get("/api/accounts/alice-main/balance")).status === 200, {
      timeoutMs: 5_000,
      message: "the gateway serving again once the loop is quiet",
    });
  });

  it("forwards a client's request without the gateway's service key", async () => {
    const keys: Array<string | undefined> = [];
    const recordKeys = (service: Service) => {
      if (service.name !== "accounts") return;
      service.app.addHook("onRequest", async (request) => {
        keys.push(request.headers["x-api-key"] as string | undefined);
      });
    };
    const sys = await harness.start({}, { roles: BANKING_ROLES, extensions: [recordKeys] });
    const alice = await sys.customer("alice", [{ id: "alice-main", balanceCents: 100 }]);
    const token = await sys.tokenFor(alice);
    const res = await fetch(`${sys.urls.gateway}/api/accounts/alice-main/balance`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(keys).toEqual([undefined]);
  });
});

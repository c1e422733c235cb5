import type { Kysely } from "kysely";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { checkBanking } from "../../../src/cases/banking/checker.ts";
import { BankingConfigSchema } from "../../../src/cases/banking/config.ts";
import { DEMO_CUSTOMERS } from "../../../src/cases/banking/demo-data.ts";
import { introspectionAuthenticator } from "../../../src/cases/banking/principal.ts";
import { type Banking, createBanking } from "../../../src/cases/banking/system.ts";
import { loadConfig } from "../../../src/platform/config/index.ts";
import { createLogger, createMetricsRegistry } from "../../../src/platform/observability/index.ts";
import { openStore, type Store } from "../../../src/platform/storage/index.ts";
import { storeTargets } from "../../support/stores.ts";
import { post, SERVICE_KEY } from "./system-harness.ts";

const targets = await storeTargets();
const logger = createLogger({ level: "silent" });

describe.each(targets)("banking system on $name", (target) => {
  const started: Banking[] = [];
  const stores: Store[] = [];
  afterEach(async () => {
    for (const b of started.splice(0)) await b.stop();
    for (const s of stores.splice(0)) await s.close();
  });
  afterAll(() => target.cleanup());

  it("two processes with split roles start at once on one store: demo data seeded once, services talk over HTTP", async () => {
    const config = loadConfig(BankingConfigSchema, {
      env: {},
      overrides: { ports: { auth: 0, accounts: 0, history: 0, mobile: 0, gateway: 0 } },
    });
    // Postgres: two pools on one schema, as two processes would have. SQLite: one connection, since node:sqlite
    // blocks the thread while it waits for a lock, so two connections in one process would wait on each other.
    const where = target.config();
    const first = await openStore(where);
    const second = target.name === "postgres" ? await openStore(where) : first;
    stores.push(...new Set([first, second]));
    let authUrl = "";
    // The plain port: one call to auth's /introspect per request, with the service key.
    const authenticator = introspectionAuthenticator({ authUrl: () => authUrl, serviceKey: SERVICE_KEY });
    const common = { config, logger, registry: createMetricsRegistry(), serviceKeys: [SERVICE_KEY] };
    const [authSide, ledgerSide] = await Promise.all([
      createBanking({ ...common, store: first, roles: ["auth"] }),
      createBanking({ ...common, store: second, roles: ["accounts", "history"], authenticator }),
    ]);
    started.push(authSide, ledgerSide);
    expect(Object.keys(authSide.running)).toEqual(["auth"]);
    expect(Object.keys(ledgerSide.running).sort()).toEqual(["accounts", "history"]);
    authUrl = (await authSide.listen()).auth!;
    const urls = await ledgerSide.listen();

    const db = first.db as Kysely<{ bank_customers: { id: string }; bank_clients: { client_id: string } }>;
    expect((await db.selectFrom("bank_customers").select("id").execute()).length).toBe(DEMO_CUSTOMERS.length);
    expect((await db.selectFrom("bank_clients").select("client_id").execute()).length).toBe(
      DEMO_CUSTOMERS.length,
    );
    const seeded = DEMO_CUSTOMERS.flatMap((c) => c.accounts.map((a) => a.balanceCents as number)).reduce(
      (x, y) => x + y,
      0,
    );
    expect(await checkBanking(first)).toMatchObject({ ok: true, accounts: 4, seededTotalCents: seeded });

    const alice = DEMO_CUSTOMERS[0];
    const token = (
      (await (
        await post(`${authUrl}/token`, { clientId: alice.clientId, clientSecret: alice.clientSecret })
      ).json()) as { access_token: string }
    ).access_token;
    const moved = await post(
      `${urls.accounts}/transfers`,
      { fromAccountId: "alice-checking", toAccountId: "bob-checking", amountCents: 4_200 },
      { authorization: `Bearer ${token}`, "idempotency-key": "demo-1" },
    );
    expect(moved.status).toBe(201);
    const history = await fetch(`${urls.history}/accounts/alice-checking/transactions`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(((await history.json()) as { items: Array<{ amountCents: number }> }).items[0]!.amountCents).toBe(
      -4_200,
    );
    expect(await checkBanking(first)).toMatchObject({ ok: true, transfers: 1, totalCents: seeded });

    // Auth gone: the plain port cannot tell, so accounts answers 503 (no fallback in the "before" wiring).
    await authSide.stop();
    const blind = await fetch(`${urls.accounts}/accounts/alice-checking/balance`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(blind.status).toBe(503);
    // Seeding again (a restart) changes nothing.
    const again = await createBanking({ ...common, store: first, roles: ["auth"] });
    started.push(again);
    expect(await checkBanking(first)).toMatchObject({
      ok: true,
      accounts: 4,
      transfers: 1,
      totalCents: seeded,
    });
  });
});

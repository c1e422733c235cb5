import type { Kysely } from "kysely";
import { LedgerRepository } from "../../../src/cases/banking/accounts/ledger-repository.ts";
import { type LedgerDb, ledgerMigrations } from "../../../src/cases/banking/accounts/migrations.ts";
import { AuthRepository } from "../../../src/cases/banking/auth/auth-repository.ts";
import { type AuthDb, authMigrations } from "../../../src/cases/banking/auth/migrations.ts";
import { BankingConfigSchema } from "../../../src/cases/banking/config.ts";
import { type Banking, type BankingDeps, createBanking } from "../../../src/cases/banking/system.ts";
import { loadConfig } from "../../../src/platform/config/index.ts";
import { createLogger, createMetricsRegistry } from "../../../src/platform/observability/index.ts";
import type { Store } from "../../../src/platform/storage/index.ts";
import type { StoreTarget } from "../../support/stores.ts";

const logger = createLogger({ level: process.env.BULWARK_TEST_LOG ?? "silent" });
export const SERVICE_KEY = "banking-test-service-key-0123";
export const ADMIN_TOKEN = "a".repeat(32);

export interface TestCustomer {
  customerId: string;
  clientId: string;
  clientSecret: string;
}

/** Runs auth, accounts and history in-process on one store target; `stopAll` tears every started one down. */
export function bankingHarness(target: StoreTarget) {
  const running: Array<{ banking: Banking; store: Store }> = [];

  async function start(overrides: Record<string, unknown> = {}, extra: Partial<BankingDeps> = {}) {
    const config = loadConfig(BankingConfigSchema, {
      env: {},
      overrides: {
        ports: { auth: 0, accounts: 0, history: 0, mobile: 0, gateway: 0 },
        demoData: false,
        ...overrides,
      },
    });
    const store = extra.store ?? (await target.open());
    const banking = await createBanking({
      config,
      roles: ["auth", "accounts", "history"],
      store,
      logger,
      registry: createMetricsRegistry(),
      admin: { enabled: true, token: ADMIN_TOKEN },
      serviceKeys: [SERVICE_KEY],
      ...extra,
    });
    running.push({ banking, store });
    const urls = await banking.listen();
    await store.migrate("banking", authMigrations);
    await store.migrate("banking", ledgerMigrations);
    const authRepo = new AuthRepository(store.db as Kysely<AuthDb & LedgerDb>);
    const ledger = new LedgerRepository(store.db as Kysely<LedgerDb>, store.kind);

    /** A customer with one API client and the given accounts (opening balance, overdraft limit). */
    const customer = async (
      customerId: string,
      accounts: Array<{ id: string; balanceCents: number; overdraftLimitCents?: number }> = [],
    ): Promise<TestCustomer> => {
      const clientSecret = `${customerId}-secret`;
      await authRepo.addCustomer(customerId, `Customer ${customerId}`);
      await authRepo.addClient(`${customerId}-app`, customerId, clientSecret);
      for (const a of accounts) await ledger.openAccount({ ...a, customerId });
      return { customerId, clientId: `${customerId}-app`, clientSecret };
    };
    const tokenFor = async (c: TestCustomer): Promise<string> => {
      const res = await post(`${urls.auth}/token`, { clientId: c.clientId, clientSecret: c.clientSecret });
      if (res.status !== 200) throw new Error(`token for ${c.clientId}: ${res.status}`);
      return ((await res.json()) as { access_token: string }).access_token;
    };
    const transfer = (
      token: string,
      body: Record<string, unknown>,
      key: string | null = `k-${Math.random().toString(36).slice(2)}`,
    ) =>
      post(`${urls.accounts}/transfers`, body, {
        authorization: `Bearer ${token}`,
        ...(key === null ? {} : { "idempotency-key": key }),
      });
    const balance = async (token: string, accountId: string) =>
      fetch(`${urls.accounts}/accounts/${accountId}/balance`, {
        headers: { authorization: `Bearer ${token}` },
      });
    return { banking, urls, store, config, ledger, authRepo, customer, tokenFor, transfer, balance };
  }

  async function stopAll() {
    for (const r of running.splice(0)) {
      await r.banking.stop();
      await r.store.close();
    }
  }
  return { start, stopAll };
}

export function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

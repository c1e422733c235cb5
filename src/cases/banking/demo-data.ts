import type { Kysely } from "kysely";
import { LedgerRepository } from "./accounts/ledger-repository.ts";
import { type LedgerDb, ledgerMigrations } from "./accounts/migrations.ts";
import { AuthRepository } from "./auth/auth-repository.ts";
import { type AuthDb, authMigrations } from "./auth/migrations.ts";
import type { BankingContext } from "./context.ts";

/**
 * Demo customers, their API clients and accounts. The client secrets are fixed, public demo values
 * (documented in docs/modules/banking.md): never use them outside a demo.
 */
export const DEMO_CUSTOMERS = [
  {
    customerId: "alice",
    name: "Alice Martin",
    clientId: "alice-app",
    clientSecret: "alice-demo-secret",
    accounts: [
      { id: "alice-checking", balanceCents: 250_000, overdraftLimitCents: 50_000 },
      { id: "alice-savings", balanceCents: 1_000_000, overdraftLimitCents: 0 },
    ],
  },
  {
    customerId: "bob",
    name: "Bob Keller",
    clientId: "bob-app",
    clientSecret: "bob-demo-secret",
    accounts: [{ id: "bob-checking", balanceCents: 120_000, overdraftLimitCents: 0 }],
  },
  {
    customerId: "carol",
    name: "Carol Nguyen",
    clientId: "carol-app",
    clientSecret: "carol-demo-secret",
    accounts: [{ id: "carol-checking", balanceCents: 80_000, overdraftLimitCents: 20_000 }],
  },
] as const;

/** Seeds the demo data once: every insert skips rows that exist, so any process may run it at any start. */
export async function seedDemoData(ctx: BankingContext): Promise<void> {
  await ctx.store.migrate("banking", authMigrations);
  await ctx.store.migrate("banking", ledgerMigrations);
  const auth = new AuthRepository(ctx.store.db as Kysely<AuthDb & LedgerDb>);
  const ledger = new LedgerRepository(ctx.store.db as Kysely<LedgerDb>, ctx.store.kind);
  for (const customer of DEMO_CUSTOMERS) {
    await auth.addCustomer(customer.customerId, customer.name);
    await auth.addClient(customer.clientId, customer.customerId, customer.clientSecret);
    for (const account of customer.accounts) {
      await ledger.openAccount({ ...account, customerId: customer.customerId });
    }
  }
}

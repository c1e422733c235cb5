// npm run bench -- banking-ledger [--quick] [--only=sqlite|postgres]
// Transfers/s through the double-entry ledger (transfer row with its unique idempotency key, conditional
// debit, credit, two entries, one transaction) against the anchor: the least an atomic move of money costs,
// the same two balance UPDATEs in one transaction with no transfer row, no entries and no overdraft check.
// Same store, same accounts, same concurrency, same run; the ratio is the price of the audit trail.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Kysely } from "kysely";
import { sql } from "kysely";
import pg from "pg";
import { LedgerRepository } from "../src/cases/banking/accounts/ledger-repository.ts";
import { type LedgerDb, ledgerMigrations } from "../src/cases/banking/accounts/migrations.ts";
import { checkBanking } from "../src/cases/banking/checker.ts";
import { openStore, type Store, type StoreConfig } from "../src/platform/storage/index.ts";
import { median, report } from "./_report.ts";

const quick = process.argv.includes("--quick");
const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);
const RUNS = quick ? 1 : 3;
const TRANSFERS = quick ? 500 : 3_000;
const CONCURRENCY = 16;
const ACCOUNTS = 50;
const PG_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

interface Target {
  name: "sqlite" | "postgres";
  open(): Promise<{ store: Store; close(): Promise<void> }>;
}

const targets: Target[] = [
  {
    name: "sqlite",
    async open() {
      const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-bank-"));
      const store = await openStore({ kind: "sqlite", file: join(dir, "bank.db") });
      return {
        store,
        async close() {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: "postgres",
    async open() {
      const schema = `bench_bank_${process.pid}_${Date.now().toString(36)}`;
      const config: StoreConfig = { kind: "postgres", url: PG_URL, schema, poolSize: CONCURRENCY };
      const store = await openStore(config);
      return {
        store,
        async close() {
          await store.close();
          const client = new pg.Client({ connectionString: PG_URL });
          await client.connect();
          await client.query(`drop schema if exists "${schema}" cascade`);
          await client.end();
        },
      };
    },
  },
];

/** Runs `count` calls of `one(i)` with `CONCURRENCY` in flight; returns calls per second. */
async function throughput(count: number, one: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await one(next++);
    }),
  );
  return count / ((performance.now() - t0) / 1000);
}

// A fixed pseudo-random walk over the accounts, the same for both sides.
const pair = (i: number) => {
  const from = (i * 7919) % ACCOUNTS;
  const to = (from + 1 + ((i * 104_729) % (ACCOUNTS - 1))) % ACCOUNTS;
  return { from: `acc-${from}`, to: `acc-${to}` };
};

for (const target of targets.filter((t) => !only || t.name === only)) {
  const ledgerRates: number[] = [];
  const anchorRates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const { store, close } = await target.open();
    try {
      await store.migrate("banking", ledgerMigrations);
      const db = store.db as Kysely<LedgerDb>;
      const ledger = new LedgerRepository(db, store.kind);
      for (let a = 0; a < ACCOUNTS; a++) {
        await ledger.openAccount({ id: `acc-${a}`, customerId: "bench", balanceCents: 10_000_000 });
      }
      // Alternate which side runs first, so neither always gets the warmer cache.
      const sides = [
        async () =>
          ledgerRates.push(
            await throughput(TRANSFERS, async (i) => {
              const { from, to } = pair(i);
              const outcome = await ledger.transfer({
                customerId: "bench",
                fromAccountId: from,
                toAccountId: to,
                amountCents: 1 + (i % 100),
                idempotencyKey: `bench:${run}:${i}`,
                now: Date.now(),
              });
              if (outcome.kind !== "completed") throw new Error(`transfer ${i}: ${outcome.kind}`);
            }),
          ),
        async () =>
          anchorRates.push(
            await throughput(TRANSFERS, async (i) => {
              const { from, to } = pair(i);
              const amount = 1 + (i % 100);
              const [first, second] = from < to ? [from, to] : [to, from];
              await db.transaction().execute(async (trx) => {
                for (const id of [first, second]) {
                  const delta = id === from ? -amount : amount;
                  await sql`update bank_accounts set balance_cents = balance_cents + ${delta} where id = ${id}`.execute(
                    trx,
                  );
                }
              });
            }),
          ),
      ];
      if (run % 2 === 1) sides.reverse();
      for (const side of sides) await side();
      const check = await checkBanking(store);
      // The anchor moves money without entries, so only the total is comparable; it must still hold.
      if (check.totalCents !== check.seededTotalCents) throw new Error("money was created or destroyed");
    } finally {
      await close();
    }
  }
  report({
    bench: "banking-ledger",
    case: `${target.name}, ${CONCURRENCY} concurrent, ${ACCOUNTS} accounts`,
    metric: "transfers/s (double-entry, idempotency key, overdraft check)",
    value: median(ledgerRates),
    unit: "1/s",
    better: "higher",
    anchor: "two balance UPDATEs in one transaction (no audit trail, no checks)",
    anchorValue: median(anchorRates),
  });
}

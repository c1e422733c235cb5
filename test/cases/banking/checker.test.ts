import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Kysely } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { loadAppConfig, storeConfigFor } from "../../../src/app/index.ts";
import { LedgerRepository } from "../../../src/cases/banking/accounts/ledger-repository.ts";
import { type LedgerDb, ledgerMigrations } from "../../../src/cases/banking/accounts/migrations.ts";
import { checkBanking } from "../../../src/cases/banking/checker.ts";
import { openStore, type Store } from "../../../src/platform/storage/index.ts";
import { storeTargets } from "../../support/stores.ts";

const targets = await storeTargets();
const bin = new URL("../../../bin/bulwark.js", import.meta.url).pathname;

/** A small ledger: three accounts, one in its overdraft, and three transfers. */
async function ledgerOn(store: Store) {
  await store.migrate("banking", ledgerMigrations);
  const ledger = new LedgerRepository(store.db as Kysely<LedgerDb>, store.kind);
  await ledger.openAccount({ id: "a", customerId: "c1", balanceCents: 1_000, overdraftLimitCents: 500 });
  await ledger.openAccount({ id: "b", customerId: "c2", balanceCents: 2_000 });
  await ledger.openAccount({ id: "c", customerId: "c3", balanceCents: 0 });
  const move = async (from: string, to: string, amountCents: number) => {
    const outcome = await ledger.transfer({
      customerId: "c",
      fromAccountId: from,
      toAccountId: to,
      amountCents,
      now: Date.now(),
    });
    if (outcome.kind !== "completed") throw new Error(outcome.kind);
    return outcome.transfer.transferId;
  };
  const ids = [await move("a", "b", 1_300), await move("b", "c", 700), await move("c", "a", 100)];
  return { db: store.db as Kysely<LedgerDb>, ids };
}

describe.each(targets)("banking checker on $name", (target) => {
  afterAll(() => target.cleanup());

  it("passes on a consistent ledger and records the seeded total", async () => {
    const store = await target.open();
    try {
      await ledgerOn(store);
      const check = await checkBanking(store);
      expect(check).toMatchObject({
        ok: true,
        accounts: 3,
        transfers: 3,
        entries: 6,
        seededTotalCents: 3_000,
        totalCents: 3_000,
        violations: [],
      });
    } finally {
      await store.close();
    }
  });

  it("an empty or never-started store is consistent", async () => {
    const store = await target.open();
    try {
      expect((await checkBanking(store)).ok).toBe(true);
    } finally {
      await store.close();
    }
  });

  const corruptions: Array<[string, (db: Kysely<LedgerDb>, ids: string[]) => Promise<unknown>, string[]]> = [
    [
      "a balance changed without an entry",
      (db) =>
        db
          .updateTable("bank_accounts")
          .set((eb) => ({ balance_cents: eb("balance_cents", "+", 1) }))
          .where("id", "=", "b")
          .execute(),
      ["balance-not-sum-of-entries", "total-changed"],
    ],
    [
      "a lost credit entry",
      (db, ids) => db.deleteFrom("bank_entries").where("id", "=", `${ids[1]}:credit`).execute(),
      ["transfer-entries", "balance-not-sum-of-entries"],
    ],
    [
      "a credit entry for another amount",
      (db, ids) =>
        db
          .updateTable("bank_entries")
          .set({ amount_cents: 701 })
          .where("id", "=", `${ids[1]}:credit`)
          .execute(),
      ["transfer-entries", "balance-not-sum-of-entries"],
    ],
    [
      "a duplicated debit (applied twice)",
      async (db, ids) => {
        await db
          .insertInto("bank_entries")
          .values({
            id: `${ids[0]}:debit-again`,
            transfer_id: ids[0]!,
            account_id: "a",
            amount_cents: -1_300,
            counterparty_account_id: "b",
            reference: null,
            at: Date.now(),
          })
          .execute();
        await db.updateTable("bank_accounts").set({ balance_cents: -1_500 }).where("id", "=", "a").execute();
      },
      ["transfer-entries", "overdraft-broken", "total-changed"],
    ],
    [
      "an overdraft limit broken",
      (db) =>
        db.updateTable("bank_accounts").set({ overdraft_limit_cents: 0 }).where("id", "=", "a").execute(),
      ["overdraft-broken"],
    ],
    [
      "an entry without a transfer",
      (db, ids) => db.deleteFrom("bank_transfers").where("id", "=", ids[2]!).execute(),
      ["orphan-entry"],
    ],
  ];

  it.each(corruptions)("fails on %s", async (_name, corrupt, invariants) => {
    const store = await target.open();
    try {
      const { db, ids } = await ledgerOn(store);
      await corrupt(db, ids);
      const check = await checkBanking(store);
      expect(check.ok).toBe(false);
      expect(new Set(check.violations.map((v) => v.invariant))).toEqual(new Set(invariants));
    } finally {
      await store.close();
    }
  });
});

describe("bulwark check banking", () => {
  it("prints the verdict as JSON and exits 0, then 1 once a row is corrupted", async () => {
    const env = {
      BULWARK_DATA_DIR: mkdtempSync(join(tmpdir(), "bulwark-bank-check-")),
      BULWARK_LOG_LEVEL: "silent",
    };
    const store = await openStore(storeConfigFor(loadAppConfig({ env })));
    try {
      const { db } = await ledgerOn(store);
      const run = () =>
        spawnSync(process.execPath, [bin, "check", "banking"], {
          env: { ...process.env, ...env },
          encoding: "utf8",
        });
      const good = run();
      expect(good.status).toBe(0);
      expect(JSON.parse(good.stdout)).toMatchObject({ ok: true, transfers: 3, seededTotalCents: 3_000 });
      await db.updateTable("bank_accounts").set({ balance_cents: 5 }).where("id", "=", "c").execute();
      const bad = run();
      expect(bad.status).toBe(1);
      const verdict = JSON.parse(bad.stdout) as {
        ok: boolean;
        violations: Array<{ invariant: string; accountId?: string }>;
      };
      expect(verdict.ok).toBe(false);
      expect(verdict.violations).toContainEqual(
        expect.objectContaining({ invariant: "balance-not-sum-of-entries", accountId: "c" }),
      );
    } finally {
      await store.close();
    }
  });
});

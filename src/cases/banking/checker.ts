import type { Kysely } from "kysely";
import type { Store } from "../../platform/storage/index.ts";
import type { LedgerDb } from "./accounts/migrations.ts";

export interface Violation {
  invariant:
    | "total-changed"
    | "overdraft-broken"
    | "balance-not-sum-of-entries"
    | "transfer-entries"
    | "orphan-entry"
    | "bad-amount";
  accountId?: string;
  transferId?: string;
  detail: string;
}

export interface BankingCheck {
  ok: boolean;
  checkedAt: string;
  accounts: number;
  transfers: number;
  entries: number;
  /** The sum of every opening deposit: money enters the bank only there. */
  seededTotalCents: number;
  totalCents: number;
  violations: Violation[];
  /** How many violations there are; `violations` lists at most `maxListed`. */
  violationCount: number;
}

/**
 * Jepsen's bank test, on the ledger: the total of all balances equals the total seeded; no balance breaks
 * its overdraft limit; every transfer has exactly one debit on its source and one equal credit on its
 * destination; every balance is its opening deposit plus its entries. It reads one snapshot and never writes.
 */
export async function checkBanking(
  store: Store,
  options: { maxListed?: number } = {},
): Promise<BankingCheck> {
  const maxListed = options.maxListed ?? 100;
  const db = store.db as Kysely<LedgerDb>;
  const read = async (trx: Kysely<LedgerDb>) =>
    Promise.all([
      trx.selectFrom("bank_accounts").selectAll().execute(),
      trx
        .selectFrom("bank_transfers")
        .select(["id", "from_account_id", "to_account_id", "amount_cents"])
        .execute(),
      trx
        .selectFrom("bank_entries")
        .select(["id", "transfer_id", "account_id", "amount_cents", "counterparty_account_id"])
        .execute(),
    ]);
  let tables: Awaited<ReturnType<typeof read>>;
  try {
    tables =
      store.kind === "postgres"
        ? await db.transaction().setIsolationLevel("repeatable read").execute(read)
        : await db.transaction().execute(read);
  } catch (err) {
    if (/bank_accounts|no such table|does not exist/.test((err as Error).message)) {
      // Nothing was ever started on this store: an empty bank is consistent.
      tables = [[], [], []];
    } else {
      throw err;
    }
  }
  const [accounts, transfers, entries] = tables;
  const violations: Violation[] = [];

  const byAccount = new Map<string, number>();
  const byTransfer = new Map<string, typeof entries>();
  for (const e of entries) {
    byAccount.set(e.account_id, (byAccount.get(e.account_id) ?? 0) + Number(e.amount_cents));
    const list = byTransfer.get(e.transfer_id) ?? [];
    list.push(e);
    byTransfer.set(e.transfer_id, list);
  }

  let seededTotalCents = 0;
  let totalCents = 0;
  for (const a of accounts) {
    const balance = Number(a.balance_cents);
    const opening = Number(a.opening_cents);
    const limit = Number(a.overdraft_limit_cents);
    seededTotalCents += opening;
    totalCents += balance;
    if (balance < -limit) {
      violations.push({
        invariant: "overdraft-broken",
        accountId: a.id,
        detail: `balance ${balance} is below -${limit}`,
      });
    }
    const expected = opening + (byAccount.get(a.id) ?? 0);
    if (balance !== expected) {
      violations.push({
        invariant: "balance-not-sum-of-entries",
        accountId: a.id,
        detail: `balance ${balance}, but opening ${opening} + entries = ${expected}`,
      });
    }
  }
  if (totalCents !== seededTotalCents) {
    violations.push({
      invariant: "total-changed",
      detail: `balances sum to ${totalCents}, ${totalCents - seededTotalCents} off the seeded ${seededTotalCents}`,
    });
  }

  const transferIds = new Set<string>();
  for (const t of transfers) {
    transferIds.add(t.id);
    const amount = Number(t.amount_cents);
    if (!(amount > 0)) {
      violations.push({ invariant: "bad-amount", transferId: t.id, detail: `amount ${amount}` });
    }
    const list = byTransfer.get(t.id) ?? [];
    const debits = list.filter(
      (e) =>
        e.account_id === t.from_account_id &&
        Number(e.amount_cents) === -amount &&
        e.counterparty_account_id === t.to_account_id,
    );
    const credits = list.filter(
      (e) =>
        e.account_id === t.to_account_id &&
        Number(e.amount_cents) === amount &&
        e.counterparty_account_id === t.from_account_id,
    );
    if (list.length !== 2 || debits.length !== 1 || credits.length !== 1) {
      violations.push({
        invariant: "transfer-entries",
        transferId: t.id,
        detail: `${list.length} entries (${debits.length} matching debit, ${credits.length} matching credit); want exactly one of each`,
      });
    }
  }
  for (const [transferId, list] of byTransfer) {
    if (!transferIds.has(transferId)) {
      violations.push({
        invariant: "orphan-entry",
        transferId,
        detail: `${list.length} entries without a transfer`,
      });
    }
  }

  return {
    ok: violations.length === 0,
    checkedAt: new Date().toISOString(),
    accounts: accounts.length,
    transfers: transfers.length,
    entries: entries.length,
    seededTotalCents,
    totalCents,
    violations: violations.slice(0, maxListed),
    violationCount: violations.length,
  };
}

import { randomUUID } from "node:crypto";
import type { Kysely, Transaction } from "kysely";
import type { StoreKind } from "../../../platform/storage/index.ts";
import type { AccountsTable, LedgerDb, TransfersTable } from "./migrations.ts";

export interface Account {
  id: string;
  customerId: string;
  currency: string;
  balanceCents: number;
  overdraftLimitCents: number;
  openingCents: number;
}

export interface OpenAccount {
  id: string;
  customerId: string;
  currency?: string;
  /** The opening deposit: the account's balance before any transfer. */
  balanceCents: number;
  overdraftLimitCents?: number;
}

export interface Transfer {
  transferId: string;
  fromAccountId: string;
  toAccountId: string;
  amountCents: number;
  reference: string | null;
  /** Milliseconds since the epoch. */
  at: number;
}

export interface TransferRequest {
  customerId: string;
  fromAccountId: string;
  toAccountId: string;
  amountCents: number;
  reference?: string | undefined;
  /** Scoped by the caller (`<customerId>:<key>`); a second transfer with the same key is never applied. */
  idempotencyKey?: string | undefined;
  now: number;
}

export type TransferOutcome =
  | { kind: "completed"; transfer: Transfer }
  /** A transfer with this idempotency key was already applied; this is it. */
  | { kind: "duplicate"; transfer: Transfer }
  | { kind: "insufficient-funds"; balanceCents: number; overdraftLimitCents: number }
  | { kind: "unknown-account"; accountId: string }
  | { kind: "currency-mismatch" };

type Db = Kysely<LedgerDb> | Transaction<LedgerDb>;

class Rollback extends Error {
  readonly outcome: TransferOutcome;
  constructor(outcome: TransferOutcome) {
    super(outcome.kind);
    this.outcome = outcome;
  }
}

/** Postgres aborts one of two transactions that deadlock or fail to serialise; running it again is safe. */
const RETRYABLE_PG = new Set(["40001", "40P01"]);

/**
 * The double-entry ledger. A transfer is one transaction: the transfer row (unique per idempotency key), a
 * conditional debit that fails rather than break the overdraft limit, the credit, and the two entries.
 * Balances are never read and then written; the UPDATE's own WHERE decides.
 */
export class LedgerRepository {
  readonly #db: Kysely<LedgerDb>;
  readonly #kind: StoreKind;

  constructor(db: Kysely<LedgerDb>, kind: StoreKind) {
    this.#db = db;
    this.#kind = kind;
  }

  /** Opens an account with its opening deposit; false when the id exists already (seeding is repeatable). */
  async openAccount(input: OpenAccount, db: Db = this.#db): Promise<boolean> {
    const result = await db
      .insertInto("bank_accounts")
      .values({
        id: input.id,
        customer_id: input.customerId,
        currency: input.currency ?? "EUR",
        balance_cents: input.balanceCents,
        overdraft_limit_cents: input.overdraftLimitCents ?? 0,
        opening_cents: input.balanceCents,
        created_at: Date.now(),
        updated_at: Date.now(),
      })
      .onConflict((oc) => oc.column("id").doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async account(id: string, db: Db = this.#db): Promise<Account | undefined> {
    const row = await db.selectFrom("bank_accounts").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? toAccount(row) : undefined;
  }

  async accountsOf(customerId: string): Promise<Account[]> {
    const rows = await this.#db
      .selectFrom("bank_accounts")
      .selectAll()
      .where("customer_id", "=", customerId)
      .orderBy("id")
      .execute();
    return rows.map(toAccount);
  }

  async transferByKey(idempotencyKey: string, db: Db = this.#db): Promise<Transfer | undefined> {
    const row = await db
      .selectFrom("bank_transfers")
      .selectAll()
      .where("idempotency_key", "=", idempotencyKey)
      .executeTakeFirst();
    return row ? toTransfer(row) : undefined;
  }

  async transferById(id: string): Promise<Transfer | undefined> {
    const row = await this.#db
      .selectFrom("bank_transfers")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row ? toTransfer(row) : undefined;
  }

  /**
   * Moves money between two accounts in one transaction. `alsoInTransaction` joins it (the idempotency
   * plugin stores the response there, so the key and the transfer commit together).
   */
  async transfer(
    request: TransferRequest,
    alsoInTransaction?: (trx: Transaction<LedgerDb>, transfer: Transfer) => Promise<void>,
  ): Promise<TransferOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#db.transaction().execute((trx) => this.#apply(trx, request, alsoInTransaction));
      } catch (err) {
        if (err instanceof Rollback) return err.outcome;
        if (request.idempotencyKey && isUniqueViolation(err)) {
          // Another attempt with the same key committed first (Postgres: it held the index entry).
          const existing = await this.transferByKey(request.idempotencyKey);
          if (existing) return { kind: "duplicate", transfer: existing };
        }
        if (
          attempt < 5 &&
          this.#kind === "postgres" &&
          RETRYABLE_PG.has(String((err as { code?: unknown }).code))
        ) {
          continue;
        }
        throw err;
      }
    }
  }

  async #apply(
    trx: Transaction<LedgerDb>,
    request: TransferRequest,
    alsoInTransaction?: (trx: Transaction<LedgerDb>, transfer: Transfer) => Promise<void>,
  ): Promise<TransferOutcome> {
    const { fromAccountId: from, toAccountId: to, amountCents: amount, now } = request;
    const transfer: Transfer = {
      transferId: randomUUID(),
      fromAccountId: from,
      toAccountId: to,
      amountCents: amount,
      reference: request.reference ?? null,
      at: now,
    };
    // The transfer row first: with a key, it claims the key's unique index entry before any balance moves.
    // A key used before fails here, and transfer() answers with the transfer that has it.
    await trx
      .insertInto("bank_transfers")
      .values({
        id: transfer.transferId,
        idempotency_key: request.idempotencyKey ?? null,
        customer_id: request.customerId,
        from_account_id: from,
        to_account_id: to,
        amount_cents: amount,
        reference: transfer.reference,
        created_at: now,
      })
      .execute();
    // Row locks in id order, so two opposite transfers cannot deadlock on Postgres.
    const steps = from < to ? [debit, credit] : [credit, debit];
    for (const step of steps) await step();
    await trx
      .insertInto("bank_entries")
      .values([
        {
          id: `${transfer.transferId}:debit`,
          transfer_id: transfer.transferId,
          account_id: from,
          amount_cents: -amount,
          counterparty_account_id: to,
          reference: transfer.reference,
          at: now,
        },
        {
          id: `${transfer.transferId}:credit`,
          transfer_id: transfer.transferId,
          account_id: to,
          amount_cents: amount,
          counterparty_account_id: from,
          reference: transfer.reference,
          at: now,
        },
      ])
      .execute();
    await alsoInTransaction?.(trx, transfer);
    return { kind: "completed", transfer };

    async function debit() {
      const debited = await trx
        .updateTable("bank_accounts")
        .set((eb) => ({ balance_cents: eb("balance_cents", "-", amount), updated_at: now }))
        .where("id", "=", from)
        .where((eb) => eb(eb("balance_cents", "-", amount), ">=", eb.neg(eb.ref("overdraft_limit_cents"))))
        .executeTakeFirst();
      if (Number(debited.numUpdatedRows) === 1) return;
      const account = await trx
        .selectFrom("bank_accounts")
        .select(["balance_cents", "overdraft_limit_cents"])
        .where("id", "=", from)
        .executeTakeFirst();
      if (!account) throw new Rollback({ kind: "unknown-account", accountId: from });
      throw new Rollback({
        kind: "insufficient-funds",
        balanceCents: Number(account.balance_cents),
        overdraftLimitCents: Number(account.overdraft_limit_cents),
      });
    }

    async function credit() {
      const credited = await trx
        .updateTable("bank_accounts")
        .set((eb) => ({ balance_cents: eb("balance_cents", "+", amount), updated_at: now }))
        .where("id", "=", to)
        .where("currency", "=", (eb) =>
          eb.selectFrom("bank_accounts as source").select("source.currency").where("source.id", "=", from),
        )
        .executeTakeFirst();
      if (Number(credited.numUpdatedRows) === 1) return;
      const exists = await trx
        .selectFrom("bank_accounts")
        .select("id")
        .where("id", "=", to)
        .executeTakeFirst();
      throw new Rollback(exists ? { kind: "currency-mismatch" } : { kind: "unknown-account", accountId: to });
    }
  }
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return (
    e?.code === "23505" || (typeof e?.message === "string" && e.message.includes("UNIQUE constraint failed"))
  );
}

function toAccount(row: AccountsTable): Account {
  return {
    id: row.id,
    customerId: row.customer_id,
    currency: row.currency,
    balanceCents: Number(row.balance_cents),
    overdraftLimitCents: Number(row.overdraft_limit_cents),
    openingCents: Number(row.opening_cents),
  };
}

function toTransfer(row: TransfersTable): Transfer {
  return {
    transferId: row.id,
    fromAccountId: row.from_account_id,
    toAccountId: row.to_account_id,
    amountCents: Number(row.amount_cents),
    reference: row.reference,
    at: Number(row.created_at),
  };
}

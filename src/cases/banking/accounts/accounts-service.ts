import { type Static, Type } from "@sinclair/typebox";
import type { Kysely } from "kysely";
import { HttpProblem, type Service } from "../../../platform/http/index.ts";
import {
  type IdempotencyDb,
  IdempotencyStore,
  idempotencyMigrations,
  registerIdempotency,
  startIdempotencyReaper,
} from "../../../platform/idempotency/index.ts";
import { type BankingContext, bankingService } from "../context.ts";
import type { Authenticator } from "../principal.ts";
import { guardOwnedAccounts } from "./guard.ts";
import { LedgerRepository, type Transfer } from "./ledger-repository.ts";
import { type LedgerDb, ledgerMigrations } from "./migrations.ts";

export const AccountId = Type.String({ pattern: "^[A-Za-z0-9_.-]{1,64}$" });

export const TransferBody = Type.Object(
  {
    fromAccountId: AccountId,
    toAccountId: AccountId,
    amountCents: Type.Integer({ minimum: 1, maximum: 100_000_000_000 }),
    reference: Type.Optional(Type.String({ maxLength: 140, pattern: "^[^\\x00-\\x1f]*$" })),
  },
  { additionalProperties: false },
);

export interface AccountsService {
  service: Service;
  ledger: LedgerRepository;
  idempotency: IdempotencyStore;
}

/** The transfer's answer, the same on the first run and on every replay. */
export function transferBody(transfer: Transfer) {
  return {
    transferId: transfer.transferId,
    status: "COMPLETED" as const,
    fromAccountId: transfer.fromAccountId,
    toAccountId: transfer.toAccountId,
    amountCents: transfer.amountCents,
    ...(transfer.reference === null ? {} : { reference: transfer.reference }),
    at: new Date(transfer.at).toISOString(),
  };
}

/** Balances and transfers over the double-entry ledger; every route needs a token of the account's owner. */
export async function createAccountsService(
  ctx: BankingContext,
  authenticator: Authenticator,
): Promise<AccountsService> {
  await ctx.store.migrate("banking", ledgerMigrations);
  await ctx.store.migrate("idempotency", idempotencyMigrations);
  const ledger = new LedgerRepository(ctx.store.db as Kysely<LedgerDb>, ctx.store.kind);
  const idempotency = new IdempotencyStore(ctx.store.db as Kysely<IdempotencyDb>, {
    clock: ctx.clock,
    lockTimeoutMs: ctx.config.idempotencyLockMs,
  });
  const service = bankingService(ctx, "accounts");
  const app = service.app;
  guardOwnedAccounts(app, authenticator, ledger);
  // Transfers always take a key: a bank has no "before" architecture that double-spends on a retry.
  // Keys are the client's, so each customer gets a key space of their own (the guard has set the principal).
  registerIdempotency(app, {
    store: idempotency,
    enabled: true,
    scope: "accounts",
    principalOf: (request) => request.principal?.customerId,
  });

  app.get(
    "/accounts/:id/balance",
    {
      schema: { params: Type.Object({ id: AccountId }) },
      config: { ownedAccount: (request) => (request.params as { id: string }).id },
    },
    async (request) => {
      const account = await ledger.account(request.params.id);
      if (!account) throw new HttpProblem(404, "account-not-found", "No such account", request.params.id);
      return {
        accountId: account.id,
        balanceCents: account.balanceCents,
        currency: account.currency,
        overdraftLimitCents: account.overdraftLimitCents,
        asOf: new Date(ctx.clock.now()).toISOString(),
      };
    },
  );

  app.post(
    "/transfers",
    {
      schema: { body: TransferBody },
      config: {
        idempotency: true,
        ownedAccount: (request) => (request.body as Static<typeof TransferBody>).fromAccountId,
      },
    },
    async (request, reply) => {
      const body: Static<typeof TransferBody> = request.body;
      const principal = request.principal!;
      if (body.fromAccountId === body.toAccountId) {
        throw new HttpProblem(400, "validation", "The request is invalid", "a transfer needs two accounts", {
          errors: [{ field: "body.toAccountId", message: "must differ from body.fromAccountId" }],
        });
      }
      const claim = request.idempotency;
      try {
        const outcome = await ledger.transfer(
          {
            customerId: principal.customerId,
            fromAccountId: body.fromAccountId,
            toAccountId: body.toAccountId,
            amountCents: body.amountCents,
            reference: body.reference,
            // Keys are the client's; scope them to the customer so two customers never share one.
            idempotencyKey: claim ? `${principal.customerId}:${claim.key}` : undefined,
            now: ctx.clock.now(),
          },
          async (trx, transfer) => {
            await claim?.finishWith(trx as unknown as Kysely<IdempotencyDb>, 201, transferBody(transfer));
          },
        );
        switch (outcome.kind) {
          case "completed":
          case "duplicate":
            // No Location: there is no GET /transfers/:id; the entries are read through history.
            return reply.code(201).send(transferBody(outcome.transfer));
          case "insufficient-funds":
            throw new HttpProblem(
              422,
              "insufficient-funds",
              "Insufficient funds",
              "the transfer would take the balance below its overdraft limit",
              { accountId: body.fromAccountId },
            );
          case "unknown-account":
            throw new HttpProblem(404, "account-not-found", "No such account", outcome.accountId, {
              errors: [
                {
                  field: outcome.accountId === body.toAccountId ? "body.toAccountId" : "body.fromAccountId",
                  message: "is not an account",
                },
              ],
            });
          case "currency-mismatch":
            throw new HttpProblem(422, "currency-mismatch", "The accounts hold different currencies");
        }
      } catch (err) {
        // An unexpected failure (the store went away) rolled the transfer back: free the key so a retry runs
        // again, instead of replaying this error forever. A business outcome above is kept and replayed.
        if (claim && !(err instanceof HttpProblem))
          await idempotency.release(claim.scope, claim.key).catch(() => {});
        throw err;
      }
    },
  );

  const stopReaper = startIdempotencyReaper(idempotency, { clock: ctx.clock, logger: ctx.logger });
  service.onShutdown(() => stopReaper());
  return { service, ledger, idempotency };
}

import { Type } from "@sinclair/typebox";
import type { Kysely } from "kysely";
import { HttpProblem, type Service } from "../../../platform/http/index.ts";
import { AccountId } from "../accounts/accounts-service.ts";
import { guardOwnedAccounts } from "../accounts/guard.ts";
import { LedgerRepository } from "../accounts/ledger-repository.ts";
import { type LedgerDb, ledgerMigrations } from "../accounts/migrations.ts";
import { type BankingContext, bankingService } from "../context.ts";
import type { Authenticator } from "../principal.ts";

export interface HistoryItem {
  entryId: string;
  transferId: string;
  /** Signed: negative for money out, positive for money in. */
  amountCents: number;
  counterpartyAccountId: string;
  reference: string | null;
  at: string;
}

export interface HistoryPage {
  items: HistoryItem[];
  nextCursor: string | null;
}

export interface HistoryService {
  service: Service;
  page(accountId: string, limit: number, cursor?: string): Promise<HistoryPage>;
}

/** Opaque to clients: the last entry's position in the ledger, versioned so its shape can change. */
const encodeCursor = (seq: number) => Buffer.from(JSON.stringify({ v: 1, seq })).toString("base64url");

function decodeCursor(cursor: string): number | undefined {
  try {
    const value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as {
      v?: unknown;
      seq?: unknown;
    };
    if (value?.v === 1 && Number.isSafeInteger(value.seq) && (value.seq as number) > 0)
      return value.seq as number;
  } catch {
    // fall through: not a cursor we made
  }
  return undefined;
}

/**
 * An account's ledger entries, newest first, in pages. The cursor is the last row's position (its insertion
 * sequence), so a page costs one index range scan however deep it is, and rows arriving meanwhile never
 * shift a page.
 */
export async function createHistoryService(
  ctx: BankingContext,
  authenticator: Authenticator,
): Promise<HistoryService> {
  await ctx.store.migrate("banking", ledgerMigrations);
  const db = ctx.store.db as Kysely<LedgerDb>;
  const ledger = new LedgerRepository(db, ctx.store.kind);
  const service = bankingService(ctx, "history");
  guardOwnedAccounts(service.app, authenticator, ledger);

  const page = async (accountId: string, limit: number, cursor?: string): Promise<HistoryPage> => {
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    if (cursor !== undefined && after === undefined) {
      throw new HttpProblem(
        400,
        "validation",
        "The request is invalid",
        "the cursor is not one this API gave",
        {
          errors: [{ field: "querystring.cursor", message: "is not a valid cursor" }],
        },
      );
    }
    let query = db
      .selectFrom("bank_entries")
      .selectAll()
      .where("account_id", "=", accountId)
      .orderBy("seq", "desc")
      .limit(limit + 1);
    if (after !== undefined) query = query.where("seq", "<", after);
    const rows = await query.execute();
    const items = rows.slice(0, limit).map((r) => ({
      entryId: r.id,
      transferId: r.transfer_id,
      amountCents: Number(r.amount_cents),
      counterpartyAccountId: r.counterparty_account_id,
      reference: r.reference,
      at: new Date(Number(r.at)).toISOString(),
    }));
    const last = rows.length > limit ? rows[limit - 1] : undefined;
    return { items, nextCursor: last ? encodeCursor(Number(last.seq)) : null };
  };

  service.app.get(
    "/accounts/:id/transactions",
    {
      schema: {
        params: Type.Object({ id: AccountId }),
        querystring: Type.Object(
          {
            limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
            cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
      },
      config: { ownedAccount: (request) => (request.params as { id: string }).id },
    },
    async (request) => page(request.params.id, request.query.limit, request.query.cursor),
  );

  return { service, page };
}

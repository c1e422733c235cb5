import type { Kysely } from "kysely";
import type { LedgerDb } from "../accounts/migrations.ts";
import type { AuthDb } from "./migrations.ts";
import { hashSecret } from "./secrets.ts";

export interface Customer {
  customerId: string;
  name: string;
  accountIds: string[];
}

/** Customers, their API clients (hashed secrets) and revoked token ids. */
export class AuthRepository {
  readonly #db: Kysely<AuthDb & LedgerDb>;

  constructor(db: Kysely<AuthDb & LedgerDb>) {
    this.#db = db;
  }

  /** Adds a customer; false when the id exists already (seeding is repeatable). */
  async addCustomer(id: string, name: string): Promise<boolean> {
    const result = await this.#db
      .insertInto("bank_customers")
      .values({ id, name, created_at: Date.now() })
      .onConflict((oc) => oc.column("id").doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  /** Registers an API client of a customer; only the secret's scrypt hash is kept. */
  async addClient(clientId: string, customerId: string, secret: string): Promise<boolean> {
    const exists = await this.#db
      .selectFrom("bank_clients")
      .select("client_id")
      .where("client_id", "=", clientId)
      .executeTakeFirst();
    if (exists) return false;
    const result = await this.#db
      .insertInto("bank_clients")
      .values({
        client_id: clientId,
        customer_id: customerId,
        secret_hash: await hashSecret(secret),
        created_at: Date.now(),
      })
      .onConflict((oc) => oc.column("client_id").doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  client(clientId: string) {
    return this.#db
      .selectFrom("bank_clients")
      .selectAll()
      .where("client_id", "=", clientId)
      .executeTakeFirst();
  }

  async customer(id: string): Promise<Customer | undefined> {
    const row = await this.#db
      .selectFrom("bank_customers")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    if (!row) return undefined;
    // The profile lists the customer's accounts from the ledger's table: one banking database, read-only here.
    const accounts = await this.#db
      .selectFrom("bank_accounts")
      .select("id")
      .where("customer_id", "=", id)
      .orderBy("id")
      .execute();
    return { customerId: row.id, name: row.name, accountIds: accounts.map((a) => a.id) };
  }

  async revoke(jti: string, now: number, expiresAt: number): Promise<void> {
    await this.#db
      .insertInto("bank_revocations")
      .values({ jti, revoked_at: now, expires_at: expiresAt })
      .onConflict((oc) => oc.column("jti").doNothing())
      .execute();
    // A revocation outlives its token by nothing: the token is rejected as expired from then on.
    await this.#db.deleteFrom("bank_revocations").where("expires_at", "<", now).execute();
  }

  async isRevoked(jti: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom("bank_revocations")
      .select("jti")
      .where("jti", "=", jti)
      .executeTakeFirst();
    return row !== undefined;
  }

  async revokedSince(since: number, limit: number): Promise<Array<{ jti: string; revokedAt: number }>> {
    const rows = await this.#db
      .selectFrom("bank_revocations")
      .select(["jti", "revoked_at"])
      .where("revoked_at", ">=", since)
      .orderBy("revoked_at")
      .limit(limit)
      .execute();
    return rows.map((r) => ({ jti: r.jti, revokedAt: Number(r.revoked_at) }));
  }
}

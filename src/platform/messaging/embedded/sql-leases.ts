import type { Kysely } from "kysely";
import type { Clock } from "../../time/index.ts";
import type { LeaseStore } from "../driver.ts";
import type { MessagingTables } from "./schema.ts";

/** Leases in a table: one upsert whose conflict branch only fires when the lease is ours or expired. */
export class SqlLeaseStore implements LeaseStore {
  readonly #db: Kysely<MessagingTables>;
  readonly #clock: Clock;

  constructor(db: Kysely<MessagingTables>, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  async tryAcquire(scope: string, name: string, owner: string, ttlMs: number): Promise<boolean> {
    const now = this.#clock.now();
    const result = await this.#db
      .insertInto("messaging_leases")
      .values({ scope, name, owner, expires_at: now + ttlMs })
      .onConflict((oc) =>
        oc
          .columns(["scope", "name"])
          .doUpdateSet({ owner, expires_at: now + ttlMs })
          .where((eb) =>
            eb.or([eb("messaging_leases.owner", "=", owner), eb("messaging_leases.expires_at", "<=", now)]),
          ),
      )
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async release(scope: string, name: string, owner: string): Promise<void> {
    await this.#db
      .deleteFrom("messaging_leases")
      .where("scope", "=", scope)
      .where("name", "=", name)
      .where("owner", "=", owner)
      .execute();
  }

  async holders(scope: string, prefix: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom("messaging_leases")
      .select("owner")
      .where("scope", "=", scope)
      .where("name", "like", `${prefix}%`)
      .where("expires_at", ">", this.#clock.now())
      .execute();
    return rows.map((r) => r.owner);
  }
}

import type { Kysely, Transaction } from "kysely";
import { type Placeholders, prepare } from "../storage/index.ts";
import { type Clock, systemClock } from "../time/index.ts";
import type { IdempotencyDb, IdempotencyKeysTable } from "./migrations.ts";

// Every request with a key runs these two: prepared (see PreparedStatement).
const CLAIM = prepare(
  (
    db: Kysely<IdempotencyDb>,
    p: Placeholders<Pick<IdempotencyKeysTable, "scope" | "key" | "fingerprint" | "locked_at" | "expires_at">>,
  ) =>
    db
      .insertInto("idempotency_keys")
      .values({
        scope: p("scope"),
        key: p("key"),
        fingerprint: p("fingerprint"),
        recovery_point: "started",
        response_status: null,
        response_body: null,
        response_type: null,
        locked_at: p("locked_at"),
        created_at: p("locked_at"),
        expires_at: p("expires_at"),
      })
      .onConflict((oc) => oc.columns(["scope", "key"]).doNothing()),
);
const FINISH = prepare(
  (
    db: Kysely<IdempotencyDb>,
    p: Placeholders<{ scope: string; key: string; status: number; body: string; type: string | null }>,
  ) =>
    db
      .updateTable("idempotency_keys")
      .set({
        recovery_point: "finished",
        response_status: p("status"),
        response_body: p("body"),
        response_type: p("type"),
      })
      .where("scope", "=", p("scope"))
      .where("key", "=", p("key")),
);

export interface StoredResponse {
  status: number;
  body: string;
  contentType: string | null;
}

/** The outcome of claiming a key for a request. */
export type ClaimResult =
  | { kind: "claimed"; lockedAt: number }
  | { kind: "replay"; response: StoredResponse }
  | { kind: "in-flight" }
  | { kind: "mismatch" };

export interface IdempotencyStoreOptions {
  /** How long a finished key is kept and replayed. Stripe prunes after 24 h. */
  ttlMs?: number;
  /** A key left "started" longer than this (its process died) may be taken over by a retry. */
  lockTimeoutMs?: number;
  clock?: Clock;
  /**
   * Where a claim's statements run: a GroupCommit's `statements` lets concurrent claims on SQLite share a
   * commit. By default each statement commits by itself.
   */
  statements?: <T>(fn: (db: Kysely<IdempotencyDb>) => Promise<T>) => Promise<T>;
}

/**
 * Idempotency keys in the service's own database (Stripe semantics, with Brandur Leach's recovery points):
 * claim a key, run once, store the response, replay it to retries with the same request.
 */
export class IdempotencyStore {
  readonly #db: Kysely<IdempotencyDb>;
  readonly #ttlMs: number;
  readonly #lockTimeoutMs: number;
  readonly #clock: Clock;
  readonly #statements: <T>(fn: (db: Kysely<IdempotencyDb>) => Promise<T>) => Promise<T>;

  constructor(db: Kysely<IdempotencyDb>, options: IdempotencyStoreOptions = {}) {
    this.#db = db;
    this.#ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000;
    this.#lockTimeoutMs = options.lockTimeoutMs ?? 60_000;
    this.#clock = options.clock ?? systemClock;
    this.#statements = options.statements ?? ((fn) => fn(db));
  }

  claim(scope: string, key: string, fingerprint: string): Promise<ClaimResult> {
    return this.#statements((db) => this.#claim(db, scope, key, fingerprint));
  }

  async #claim(
    db: Kysely<IdempotencyDb>,
    scope: string,
    key: string,
    fingerprint: string,
  ): Promise<ClaimResult> {
    const now = this.#clock.now();
    for (let attempt = 0; attempt < 3; attempt++) {
      const inserted = await CLAIM.execute(db, {
        scope,
        key,
        fingerprint,
        locked_at: now,
        expires_at: now + this.#ttlMs,
      });
      if (Number(inserted.numAffectedRows ?? 0n) === 1) return { kind: "claimed", lockedAt: now };

      const row = await db
        .selectFrom("idempotency_keys")
        .selectAll()
        .where("scope", "=", scope)
        .where("key", "=", key)
        .executeTakeFirst();
      if (!row) continue; // reaped between the two statements: try the insert again
      if (row.expires_at <= now) {
        await db
          .deleteFrom("idempotency_keys")
          .where("scope", "=", scope)
          .where("key", "=", key)
          .where("expires_at", "=", row.expires_at)
          .execute();
        continue;
      }
      if (row.fingerprint !== fingerprint) return { kind: "mismatch" };
      if (row.recovery_point === "finished") return { kind: "replay", response: toResponse(row) };
      if (now - row.locked_at < this.#lockTimeoutMs) return { kind: "in-flight" };
      // The first attempt's process died mid-request. Take the key over with a compare-and-set on the lock,
      // so only one retry wins; the handler's own domain-level dedupe guards what the dead attempt did.
      const taken = await db
        .updateTable("idempotency_keys")
        .set({ locked_at: now })
        .where("scope", "=", scope)
        .where("key", "=", key)
        .where("locked_at", "=", row.locked_at)
        .where("recovery_point", "!=", "finished")
        .executeTakeFirst();
      return Number(taken.numUpdatedRows) === 1 ? { kind: "claimed", lockedAt: now } : { kind: "in-flight" };
    }
    return { kind: "in-flight" };
  }

  /**
   * Stores the response and finishes the key. Pass the handler's transaction to finish the key atomically
   * with the handler's own writes.
   */
  async finish(
    scope: string,
    key: string,
    response: StoredResponse,
    trx: Kysely<IdempotencyDb> | Transaction<IdempotencyDb> = this.#db,
  ): Promise<void> {
    await FINISH.execute(trx, {
      scope,
      key,
      status: response.status,
      body: response.body,
      type: response.contentType,
    });
  }

  /** Moves a claimed key to a named recovery point, e.g. "charge_created". */
  async setRecoveryPoint(scope: string, key: string, point: string, trx: Kysely<IdempotencyDb> = this.#db) {
    if (point === "finished") throw new Error('use finish() to reach the "finished" recovery point');
    await trx
      .updateTable("idempotency_keys")
      .set({ recovery_point: point })
      .where("scope", "=", scope)
      .where("key", "=", key)
      .execute();
  }

  /** Releases a claim without storing a response, so a retry can run again (the request had no effect). */
  async release(scope: string, key: string): Promise<void> {
    await this.#db
      .deleteFrom("idempotency_keys")
      .where("scope", "=", scope)
      .where("key", "=", key)
      .where("recovery_point", "!=", "finished")
      .execute();
  }

  /** Deletes expired keys; returns how many. */
  async reap(limit = 1_000): Promise<number> {
    const now = this.#clock.now();
    const expired = await this.#db
      .selectFrom("idempotency_keys")
      .select(["scope", "key"])
      .where("expires_at", "<=", now)
      .limit(limit)
      .execute();
    let removed = 0;
    for (const row of expired) {
      const result = await this.#db
        .deleteFrom("idempotency_keys")
        .where("scope", "=", row.scope)
        .where("key", "=", row.key)
        .where("expires_at", "<=", now)
        .executeTakeFirst();
      removed += Number(result.numDeletedRows);
    }
    return removed;
  }
}

function toResponse(row: IdempotencyKeysTable): StoredResponse {
  return {
    status: row.response_status ?? 200,
    body: row.response_body ?? "",
    contentType: row.response_type,
  };
}

import type { Kysely } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { GroupCommit, type Placeholders, prepare } from "../../../src/platform/storage/index.ts";
import { storeTargets } from "../../support/stores.ts";
import { demoMigrations } from "./fixtures/demo-migrations.ts";

interface DemoDb {
  accounts: { id: string; balance: number; owner: string | null };
}

const targets = await storeTargets();

const insertAccount = prepare((db: Kysely<DemoDb>, p: Placeholders<{ id: string; balance: number }>) =>
  // owner is a constant of the statement, not a parameter: it must be bound as built.
  db.insertInto("accounts").values({ id: p("id"), balance: p("balance"), owner: "bank" }),
);
const credit = prepare((db: Kysely<DemoDb>, p: Placeholders<{ id: string; amount: number; floor: number }>) =>
  db
    .updateTable("accounts")
    .set((eb) => ({ balance: eb("balance", "+", p("amount")) }))
    .where("id", "=", p("id"))
    // The same parameter twice, and one after a constant in the same clause.
    .where((eb) => eb.and([eb("balance", ">=", p("floor")), eb("balance", "<", eb.lit(1_000_000))]))
    .where(({ eb, val }) => eb(val(p("amount")), ">", 0))
    .returning(["id", "balance"]),
);
const account = prepare((db: Kysely<DemoDb>, p: Placeholders<{ id: string }>) =>
  db.selectFrom("accounts").select(["id", "balance", "owner"]).where("id", "=", p("id")),
);

describe.each(targets)("prepared statements on $name", (target) => {
  afterAll(() => target.cleanup());

  it("bind each run's values by name, keep the builder's constants, and return what Kysely would", async () => {
    const store = await target.open();
    try {
      await store.migrate("demo", demoMigrations);
      const db = store.db as Kysely<DemoDb>;
      const inserted = await insertAccount.execute(db, { id: "a", balance: 10 });
      expect(inserted.numAffectedRows).toBe(1n);
      await insertAccount.execute(db, { id: "b", balance: 20 });
      expect(await account.first(db, { id: "a" })).toEqual({ id: "a", balance: 10, owner: "bank" });
      expect(await credit.first(db, { id: "b", amount: 5, floor: 0 })).toEqual({ id: "b", balance: 25 });
      // Below the floor: no row matches, nothing changes.
      const none = await credit.execute(db, { id: "a", amount: 5, floor: 11 });
      expect(none.rows).toEqual([]);
      expect(await account.first(db, { id: "a" })).toMatchObject({ balance: 10 });
      // The builder's way gives the same rows.
      expect(
        await db.selectFrom("accounts").select(["id", "balance", "owner"]).orderBy("id").execute(),
      ).toEqual([
        { id: "a", balance: 10, owner: "bank" },
        { id: "b", balance: 25, owner: "bank" },
      ]);
      await expect(account.execute(db, {} as { id: string })).rejects.toThrow(/no value for "id"/);
    } finally {
      await store.close();
    }
  });

  it("run inside group commit units, whose rolled-back unit loses its prepared writes too", async () => {
    const store = await target.open();
    try {
      await store.migrate("demo", demoMigrations);
      const units = new GroupCommit(store);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) =>
          units.transaction<number, DemoDb>(async (trx) => {
            await insertAccount.execute(trx, { id: `u${i}`, balance: i });
            const row = await credit.first(trx, { id: `u${i}`, amount: 100, floor: 0 });
            if (i % 4 === 1) throw new Error(`unit ${i} failed`);
            return row!.balance;
          }),
        ),
      );
      expect(outcomes.map((o) => (o.status === "fulfilled" ? o.value : "failed"))).toEqual(
        Array.from({ length: 12 }, (_, i) => (i % 4 === 1 ? "failed" : 100 + i)),
      );
      // Outside any unit again (Kysely's executor path on SQLite too): only the committed units' rows.
      const db = store.db as Kysely<DemoDb>;
      const ids = (await db.selectFrom("accounts").select("id").execute()).map((r) => r.id).sort();
      expect(ids).toEqual(
        Array.from({ length: 12 }, (_, i) => i)
          .filter((i) => i % 4 !== 1)
          .map((i) => `u${i}`)
          .sort(),
      );
      expect(await account.first(db, { id: "u2" })).toEqual({ id: "u2", balance: 102, owner: "bank" });
    } finally {
      await store.close();
    }
  });
});

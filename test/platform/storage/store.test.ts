import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { storeTargets } from "../../support/stores.ts";
import { demoMigrations } from "./fixtures/demo-migrations.ts";

const run = promisify(execFile);
const fixture = new URL("./fixtures/migrate-once.ts", import.meta.url).pathname;
const targets = await storeTargets();

interface DemoDb {
  accounts: { id: string; balance: number; owner: string | null };
  migration_runs: { id: string };
}

describe.each(targets)("store on $name", (target) => {
  afterAll(() => target.cleanup());

  it("runs the same repository code: insert, update, select, transaction commit and rollback", async () => {
    const store = await target.open();
    try {
      await store.migrate("demo", demoMigrations);
      const db = store.db as unknown as import("kysely").Kysely<DemoDb>;
      await db.insertInto("accounts").values({ id: "a", balance: 100, owner: "ann" }).execute();
      await db.transaction().execute(async (trx) => {
        await trx.insertInto("accounts").values({ id: "b", balance: 0, owner: null }).execute();
        const moved = await trx
          .updateTable("accounts")
          .set((eb) => ({ balance: eb("balance", "-", 30) }))
          .where("id", "=", "a")
          .where("balance", ">=", 30)
          .executeTakeFirst();
        expect(moved.numUpdatedRows).toBe(1n);
        await trx
          .updateTable("accounts")
          .set((eb) => ({ balance: eb("balance", "+", 30) }))
          .where("id", "=", "b")
          .execute();
      });
      await expect(
        db.transaction().execute(async (trx) => {
          await trx.updateTable("accounts").set({ balance: 0 }).where("id", "=", "a").execute();
          throw new Error("abort the transfer");
        }),
      ).rejects.toThrow("abort the transfer");
      const rows = await db.selectFrom("accounts").select(["id", "balance"]).orderBy("id").execute();
      expect(rows).toEqual([
        { id: "a", balance: 70 },
        { id: "b", balance: 30 },
      ]);
      await expect(store.ping()).resolves.toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it("applies migrations once when run twice", async () => {
    const config = target.config();
    const { openStore } = await import("../../../src/platform/storage/index.ts");
    const store = await openStore(config);
    try {
      expect(await store.migrate("demo", demoMigrations)).toEqual(["001_accounts", "002_accounts_owner"]);
      expect(await store.migrate("demo", demoMigrations)).toEqual([]);
      // A later release adds a migration: only that one runs.
      const next = [...demoMigrations, { id: "003_noop", up: async () => {} }];
      expect(await store.migrate("demo", next)).toEqual(["003_noop"]);
      // Namespaces are independent.
      expect(await store.migrate("other", [{ id: "001_accounts", up: async () => {} }])).toEqual([
        "001_accounts",
      ]);
      const runs = await store.db.selectFrom("migration_runs").selectAll().execute();
      expect(runs).toHaveLength(1);
    } finally {
      await store.close();
    }
  });

  it("applies migrations exactly once when two processes start at once", async () => {
    const config = JSON.stringify(target.config());
    const results = await Promise.all(
      [1, 2, 3].map(() => run(process.execPath, [fixture, config], { timeout: 20_000 })),
    );
    const applied = results.map((r) => JSON.parse(r.stdout) as string[]);
    // Every migration was applied by exactly one of the processes.
    expect(applied.flat().sort()).toEqual(["001_accounts", "002_accounts_owner"]);
    const { openStore } = await import("../../../src/platform/storage/index.ts");
    const store = await openStore(JSON.parse(config));
    try {
      expect(await store.db.selectFrom("migration_runs").selectAll().execute()).toHaveLength(1);
    } finally {
      await store.close();
    }
  });

  it("rolls back a failing migration and does not record it", async () => {
    const store = await target.open();
    try {
      const broken = [
        {
          id: "001_broken",
          async up(db: import("kysely").Kysely<DemoDb>) {
            await db.schema.createTable("half_done").addColumn("id", "integer").execute();
            throw new Error("migration failed midway");
          },
        },
      ];
      await expect(store.migrate("broken", broken)).rejects.toThrow("migration failed midway");
      // Both dialects run DDL inside the transaction, so nothing of it is left and a retry applies it afresh.
      const fixed = [{ id: "001_broken", up: async () => {} }];
      expect(await store.migrate("broken", fixed)).toEqual(["001_broken"]);
    } finally {
      await store.close();
    }
  });
});

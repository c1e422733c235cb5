import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Kysely } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { GroupCommit, openStore } from "../../../src/platform/storage/index.ts";
import { sqliteHandleOf } from "../../../src/platform/storage/store.ts";
import { storeTargets } from "../../support/stores.ts";
import { demoMigrations } from "./fixtures/demo-migrations.ts";

interface DemoDb {
  accounts: { id: string; balance: number; owner: string | null };
}

const targets = await storeTargets();

describe.each(targets)("group commit on $name", (target) => {
  afterAll(() => target.cleanup());

  it("runs concurrent units together; a failing unit rolls back only its own writes and gets its error", async () => {
    const store = await target.open();
    try {
      await store.migrate("demo", demoMigrations);
      const units = new GroupCommit(store);
      const insert = (id: string, fail: boolean) =>
        units.transaction<string, DemoDb>(async (trx) => {
          await trx.insertInto("accounts").values({ id, balance: 1, owner: null }).execute();
          await trx.updateTable("accounts").set({ owner: "x" }).where("id", "=", id).execute();
          if (fail) throw new Error(`unit ${id} failed`);
          return id;
        });
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => insert(`g${i}`, i % 5 === 2)),
      );
      const failed = outcomes.flatMap((o, i) => (o.status === "rejected" ? [i] : []));
      expect(failed).toEqual([2, 7, 12, 17]);
      expect(outcomes[0]).toEqual({ status: "fulfilled", value: "g0" });
      const db = store.db as unknown as Kysely<DemoDb>;
      const rows = await db
        .selectFrom("accounts")
        .select(["id", "owner"])
        .where("id", "like", "g%")
        .execute();
      expect(rows.map((r) => r.id).sort()).toEqual(
        Array.from({ length: 20 }, (_, i) => `g${i}`)
          .filter((_, i) => i % 5 !== 2)
          .sort(),
      );
      expect(rows.every((r) => r.owner === "x")).toBe(true);
    } finally {
      await store.close();
    }
  });
});

describe.each(targets)("group commit's statements() on $name", (target) => {
  afterAll(() => target.cleanup());

  it("runs concurrent callers inside the group's transaction on SQLite, and as they are (each statement committing) elsewhere", async () => {
    const store = await target.open();
    try {
      await store.migrate("demo", demoMigrations);
      const units = new GroupCommit(store);
      const handle = sqliteHandleOf(store);
      const inTransaction: boolean[] = [];
      const given: unknown[] = [];
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          units.statements<void, DemoDb>(async (db) => {
            given.push(db);
            inTransaction.push(handle?.raw.isTransaction ?? false);
            await db
              .insertInto("accounts")
              .values({ id: `s${i}`, balance: i, owner: null })
              .execute();
          }),
        ),
      );
      if (store.kind === "sqlite") {
        expect(inTransaction).toEqual(Array(10).fill(true));
        expect(given.every((db) => db !== store.db)).toBe(true);
      } else {
        expect(given.every((db) => db === store.db)).toBe(true);
      }
      const db = store.db as unknown as Kysely<DemoDb>;
      const rows = await db.selectFrom("accounts").select("id").where("id", "like", "s%").execute();
      expect(rows).toHaveLength(10);
    } finally {
      await store.close();
    }
  });
});

describe.each(targets)("group commit's committed listener on $name", (target) => {
  afterAll(() => target.cleanup());

  it("hears of each committed unit before its caller resumes, in the order the units ran, and never of a failed one", async () => {
    const store = await target.open();
    try {
      await store.migrate("demo", demoMigrations);
      const heard: string[] = [];
      const handles = new Map<unknown, string>();
      const units = new GroupCommit(store, { committed: (trx) => heard.push(handles.get(trx) ?? "?") });
      const resumed: Array<{ id: string; heardBefore: string[] }> = [];
      const insert = (id: string, fail: boolean) =>
        units
          .transaction<string, DemoDb>(async (trx) => {
            handles.set(trx, id);
            await trx.insertInto("accounts").values({ id, balance: 1, owner: null }).execute();
            if (fail) throw new Error(`unit ${id} failed`);
            return id;
          })
          .then((value) => {
            resumed.push({ id: value, heardBefore: [...heard] });
          });
      const ids = Array.from({ length: 12 }, (_, i) => `c${i}`);
      await Promise.allSettled(ids.map((id, i) => insert(id, i % 4 === 1)));
      const committed = ids.filter((_, i) => i % 4 !== 1);
      // SQLite runs the units one after another, in arrival order; Postgres side by side, in any order.
      if (store.kind === "sqlite") expect(heard).toEqual(committed);
      else expect([...heard].sort()).toEqual([...committed].sort());
      for (const { id, heardBefore } of resumed) expect(heardBefore).toContain(id);
    } finally {
      await store.close();
    }
  });
});

describe("background checkpoints", () => {
  it("keeps every committed row, and the worker stops with the store", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bwk-checkpoint-"));
    const file = join(dir, "db.sqlite");
    try {
      const store = await openStore({ kind: "sqlite", file, backgroundCheckpoints: true });
      await store.migrate("demo", demoMigrations);
      const db = store.db as unknown as Kysely<DemoDb>;
      for (let i = 0; i < 500; i++)
        await db
          .insertInto("accounts")
          .values({ id: `c${i}`, balance: i, owner: null })
          .execute();
      await new Promise((resolve) => setTimeout(resolve, 300)); // a few checkpoints run meanwhile
      await store.close();
      const reopened = await openStore({ kind: "sqlite", file });
      try {
        const rows = await (reopened.db as unknown as Kysely<DemoDb>)
          .selectFrom("accounts")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow();
        expect(Number(rows.n)).toBe(500);
      } finally {
        await reopened.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { CheckpointStore } from "../../../src/cases/analytics/processor/checkpoints.ts";
import { storeTargets } from "../../support/stores.ts";

const targets = await storeTargets();
afterAll(async () => {
  for (const target of targets) await target.cleanup();
});

/** A state the size of a busy partition's (~200 kB), as compressible as the real one (varint gaps in base64). */
function bigState(): string {
  const gaps = Buffer.alloc(150_000);
  for (let i = 0; i < gaps.length; i++) gaps[i] = 1 + (i % 7 === 0 ? 2 : 0);
  return JSON.stringify({ pipeline: { dedupe: { groups: gaps.toString("base64") } }, listings: [] });
}

describe.each(targets)("analytics checkpoint store ($name)", (target) => {
  it("saves a large state and the next claim restores it exactly, fenced by epoch", async () => {
    const store = await target.open();
    try {
      await CheckpointStore.migrate(store);
      const checkpoints = new CheckpointStore(store);
      const first = await checkpoints.claim("g", 0, "a", 1);
      const state = bigState();
      expect(await checkpoints.save("g", 0, first.epoch, 41, state, 2)).toBe(true);
      const second = await checkpoints.claim("g", 0, "b", 3);
      expect(second).toEqual({ epoch: first.epoch + 1, offset: 41, state });
      // The first owner's late save must not overwrite the new owner's progress.
      expect(await checkpoints.save("g", 0, first.epoch, 99, "{}", 4)).toBe(false);
      if (target.name === "postgres") {
        const { rows } = await sql<{ method: string | null }>`select pg_column_compression(state) as method
          from analytics_checkpoints where grp = 'g'`.execute(store.db);
        const { rows: available } = await sql<{ lz4: boolean }>`select 'lz4' = any(enumvals) as lz4
          from pg_settings where name = 'default_toast_compression'`.execute(store.db);
        // lz4 where the server has it: pglz cost about 6× its CPU per save (see the migration).
        expect(rows[0]?.method).toBe(available[0]?.lz4 ? "lz4" : "pglz");
      }
    } finally {
      await store.close();
    }
  });
});

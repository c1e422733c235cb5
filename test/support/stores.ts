import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openStore, type Store, type StoreConfig } from "../../src/platform/storage/index.ts";
import { SERVICES, serviceAvailable, uniqueName } from "./services.ts";

/** A storage backend a suite runs against: a fresh SQLite file or a fresh Postgres schema per call to `config()`. */
export interface StoreTarget {
  name: "sqlite" | "postgres";
  /** A new, empty, isolated database or schema. */
  config(): StoreConfig;
  open(): Promise<Store>;
  /** Removes every database or schema this target created. */
  cleanup(): Promise<void>;
}

function sqliteTarget(): StoreTarget {
  const dirs: string[] = [];
  const target: StoreTarget = {
    name: "sqlite",
    config() {
      const dir = mkdtempSync(join(tmpdir(), "bulwark-test-"));
      dirs.push(dir);
      return { kind: "sqlite", file: join(dir, "bulwark.db") };
    },
    open: () => openStore(target.config()),
    async cleanup() {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
  return target;
}

function postgresTarget(): StoreTarget {
  const schemas: string[] = [];
  const target: StoreTarget = {
    name: "postgres",
    config() {
      const schema = uniqueName("t");
      schemas.push(schema);
      return { kind: "postgres", url: SERVICES.postgres.url, schema, poolSize: 5 };
    },
    open: () => openStore(target.config()),
    async cleanup() {
      if (schemas.length === 0) return;
      const client = new pg.Client({ connectionString: SERVICES.postgres.url });
      await client.connect();
      try {
        for (const schema of schemas.splice(0))
          await client.query(`drop schema if exists "${schema}" cascade`);
      } finally {
        await client.end();
      }
    },
  };
  return target;
}

/** SQLite always; Postgres when reachable (SKIP line otherwise, or a failure under BULWARK_REQUIRE_SERVICES). */
export async function storeTargets(): Promise<StoreTarget[]> {
  const targets = [sqliteTarget()];
  if (await serviceAvailable("postgres")) targets.push(postgresTarget());
  return targets;
}

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { loadAppConfig, startSystem } from "../../src/app/index.ts";
import { SERVICES, serviceAvailable, uniqueName } from "../support/services.ts";

const up =
  (await serviceAvailable("postgres")) &&
  (await serviceAvailable("redis")) &&
  (await serviceAvailable("nats"));

describe.skipIf(!up)("the analytics query role on the distributed profile", () => {
  const schema = uniqueName("app_cache").toLowerCase();
  afterAll(async () => {
    const client = new pg.Client({ connectionString: SERVICES.postgres.url });
    await client.connect();
    const { rows } = await client.query<{ nspname: string }>(
      "select nspname from pg_namespace where nspname like $1",
      [`${schema}%`],
    );
    for (const { nspname } of rows) await client.query(`drop schema if exists "${nspname}" cascade`);
    await client.end();
  });

  it("caches its reads in Redis, under the deployment's schema", async () => {
    const config = loadAppConfig({
      cwd: mkdtempSync(join(tmpdir(), "bulwark-app-")),
      env: {
        BULWARK_PROFILE: "distributed",
        BULWARK_DATABASE_SCHEMA: schema,
        DATABASE_URL: SERVICES.postgres.url,
        REDIS_URL: SERVICES.redis.url,
        NATS_URL: SERVICES.nats.url,
        BULWARK_HTTP_PORT: "0",
        BULWARK_LOG_LEVEL: "silent",
        BULWARK_ANALYTICS_PORTS_QUERY: "0",
      },
    });
    const system = await startSystem(config, { roles: ["analytics:query"] });
    const redis = new Redis(SERVICES.redis.url);
    try {
      const base = system.urls["analytics:query"]!;
      const res = await fetch(`${base}/top-movers?window=1000`);
      expect(res.status).toBe(200);
      const keys = await redis.keys(`bwk:cache:${schema}:analytics-query:*`);
      expect(keys.length).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
      await system.stop();
    }
  });
});

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll } from "vitest";
import { startAnalytics } from "../../../src/app/cases/analytics.ts";
import { type AppConfig, createRuntime, loadAppConfig, type Runtime } from "../../../src/app/index.ts";
import { PROCESSOR_GROUP } from "../../../src/cases/analytics/events.ts";
import { FeedGenerator, type Trade, tradesOf } from "../../../src/cases/analytics/feed/index.ts";
import type { Analytics, AnalyticsRole } from "../../../src/cases/analytics/system.ts";
import { jetStreamDriver } from "../../../src/platform/messaging/index.ts";
import { createLogger } from "../../../src/platform/observability/index.ts";
import { partitionOf } from "../../../src/platform/partitioning/index.ts";
import { openStore, type Store } from "../../../src/platform/storage/index.ts";
import { SERVICES, serviceAvailable, uniqueName } from "../../support/services.ts";

export type ProfileName = "embedded" | "distributed";

/** Embedded always; distributed (Postgres + JetStream) when both answer. */
export async function profiles(): Promise<ProfileName[]> {
  const out: ProfileName[] = ["embedded"];
  if ((await serviceAvailable("postgres")) && (await serviceAvailable("nats"))) out.push("distributed");
  return out;
}

/**
 * Windows and lateness for the correctness runs: the feed's late trades lag at most 8 s and L is 10 s, so
 * every accepted trade counts (late ones re-fire their window) and the expected result does not depend on
 * where read boundaries fell.
 */
export const TEST_WINDOWS = {
  sizeMs: 1_000,
  outOfOrdernessMs: 500,
  allowedLatenessMs: 10_000,
  lateDelayMs: [2_000, 8_000] as [number, number],
};

/** The environment of one isolated system of a profile (its own data dir, or its own schema and streams). */
export function systemEnv(profile: ProfileName, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    BULWARK_PROFILE: profile,
    BULWARK_DATA_DIR: mkdtempSync(join(tmpdir(), "bulwark-analytics-")),
    BULWARK_LOG_LEVEL: "warn",
    BULWARK_COMMERCE_ENABLED: "false",
    BULWARK_ANALYTICS_PARTITIONS: "4",
    BULWARK_ANALYTICS_SHARDS_COUNT: "3",
    BULWARK_ANALYTICS_LIVE_FEED_RATE: "0",
    BULWARK_ANALYTICS_CHECKPOINT_INTERVAL_MS: "200",
    BULWARK_ANALYTICS_WINDOWS_SIZE_MS: String(TEST_WINDOWS.sizeMs),
    BULWARK_ANALYTICS_WINDOWS_OUT_OF_ORDERNESS_MS: String(TEST_WINDOWS.outOfOrdernessMs),
    BULWARK_ANALYTICS_WINDOWS_ALLOWED_LATENESS_MS: String(TEST_WINDOWS.allowedLatenessMs),
    BULWARK_ANALYTICS_WINDOWS_IDLE_TIMEOUT_MS: "60000",
    BULWARK_ANALYTICS_PORTS_INGEST: "0",
    BULWARK_ANALYTICS_PORTS_PROCESSOR: "0",
    BULWARK_ANALYTICS_PORTS_QUERY: "0",
    ...extra,
  };
  if (profile === "distributed") env.BULWARK_DATABASE_SCHEMA = uniqueName("an");
  return env;
}

export function configOf(env: Record<string, string>): AppConfig {
  return loadAppConfig({ cwd: mkdtempSync(join(tmpdir(), "bulwark-analytics-cwd-")), env });
}

export interface Node {
  rt: Runtime;
  analytics: Analytics;
  close(): Promise<void>;
}

/** One process's worth of the analytics case, in this process, on the system `env` describes. */
export async function startNode(
  env: Record<string, string>,
  roles: AnalyticsRole[],
  member?: string,
): Promise<Node> {
  const config = configOf(env);
  const rt = await createRuntime(config, createLogger({ level: "warn" }));
  const started = await startAnalytics(rt, roles, member ? { member } : {});
  await started.analytics.listen();
  return {
    rt,
    analytics: started.analytics,
    async close() {
      await started.stop();
      await rt.close();
    },
  };
}

/**
 * The systems and nodes one test file starts: `env()` and `node()` wrap systemEnv and startNode and register
 * what they made, and after the file's tests every node is closed and every system cleaned up.
 */
export function systemsOfThisFile() {
  const envs: Record<string, string>[] = [];
  const nodes: Node[] = [];
  afterAll(async () => {
    for (const node of nodes.splice(0)) await node.close();
    for (const env of envs.splice(0)) await cleanupSystem(env);
  });
  return {
    env(profile: ProfileName, extra: Record<string, string> = {}): Record<string, string> {
      const env = systemEnv(profile, extra);
      envs.push(env);
      return env;
    },
    async node(env: Record<string, string>, roles: AnalyticsRole[], member?: string): Promise<Node> {
      const node = await startNode(env, roles, member);
      nodes.push(node);
      return node;
    },
  };
}

/** Drops the Postgres schemas and JetStream streams of a distributed system. */
export async function cleanupSystem(env: Record<string, string>): Promise<void> {
  const schema = env.BULWARK_DATABASE_SCHEMA;
  if (!schema) return;
  const client = new pg.Client({ connectionString: SERVICES.postgres.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ nspname: string }>(
      "select nspname from pg_namespace where nspname = $1 or nspname like $2",
      [schema, `${schema}\\_%`],
    );
    for (const { nspname } of rows) await client.query(`drop schema if exists "${nspname}" cascade`);
  } finally {
    await client.end();
  }
  const driver = await jetStreamDriver({ servers: SERVICES.nats.url, namespace: schema });
  await driver.deleteNamespace();
  await driver.close();
}

/** A seeded feed with disorder, late trades (within L) and duplicates, in arrival order. */
export function seededTrades(count: number, seed: number, symbols = 60): Trade[] {
  const feed = new FeedGenerator({
    seed,
    symbols,
    rate: 2_000,
    disorder: {
      outOfOrderRate: 0.05,
      maxOutOfOrderMs: 400,
      lateRate: 0.01,
      lateDelayMs: TEST_WINDOWS.lateDelayMs,
      duplicateRate: 0.01,
    },
  });
  return tradesOf(feed.next(count));
}

export interface ExpectedWindow {
  count: number;
  volume: number;
  vwap: number;
  open: number;
  high: number;
  low: number;
  close: number;
}

/**
 * The offline reference, independent of the stream operators: first occurrence of each tradeId counts, windows
 * are [k·size, (k+1)·size), and a window is closed once its partition's watermark (max ts seen − B) reached its
 * end. Open/close follow event time, ties broken by tradeId.
 */
export function expectedWindows(trades: readonly Trade[], partitions: number): Map<string, ExpectedWindow> {
  const { sizeMs, outOfOrdernessMs } = TEST_WINDOWS;
  const seen = new Set<number>();
  const maxTs = new Map<number, number>();
  const acc = new Map<
    string,
    ExpectedWindow & {
      notional: number;
      partition: number;
      end: number;
      openAt: [number, number];
      closeAt: [number, number];
    }
  >();
  for (const t of trades) {
    const p = partitionOf(t.symbol, partitions);
    maxTs.set(p, Math.max(maxTs.get(p) ?? Number.NEGATIVE_INFINITY, t.ts));
    if (seen.has(t.tradeId)) continue;
    seen.add(t.tradeId);
    const start = Math.floor(t.ts / sizeMs) * sizeMs;
    const key = `${t.symbol}|${start}`;
    const w = acc.get(key);
    if (!w) {
      acc.set(key, {
        count: 1,
        volume: t.size,
        notional: t.price * t.size,
        vwap: 0,
        open: t.price,
        high: t.price,
        low: t.price,
        close: t.price,
        partition: p,
        end: start + sizeMs,
        openAt: [t.ts, t.tradeId],
        closeAt: [t.ts, t.tradeId],
      });
      continue;
    }
    w.count++;
    w.volume += t.size;
    w.notional += t.price * t.size;
    w.high = Math.max(w.high, t.price);
    w.low = Math.min(w.low, t.price);
    if (t.ts < w.openAt[0] || (t.ts === w.openAt[0] && t.tradeId < w.openAt[1])) {
      w.open = t.price;
      w.openAt = [t.ts, t.tradeId];
    }
    if (t.ts > w.closeAt[0] || (t.ts === w.closeAt[0] && t.tradeId > w.closeAt[1])) {
      w.close = t.price;
      w.closeAt = [t.ts, t.tradeId];
    }
  }
  const out = new Map<string, ExpectedWindow>();
  for (const [key, w] of acc) {
    if (w.end > (maxTs.get(w.partition) ?? Number.NEGATIVE_INFINITY) - outOfOrdernessMs) continue;
    out.set(key, {
      count: w.count,
      volume: w.volume,
      vwap: w.notional / w.volume,
      open: w.open,
      high: w.high,
      low: w.low,
      close: w.close,
    });
  }
  return out;
}

export interface StoredWindow extends ExpectedWindow {
  revision: number;
}

/** Every window row of every shard, by `symbol|start`. */
export async function storedWindows(
  analytics: Pick<Analytics, "shards">,
): Promise<Map<string, StoredWindow>> {
  const out = new Map<string, StoredWindow>();
  for (const shard of analytics.shards.shards) {
    const rows = await shard.db.selectFrom("window_results").selectAll().execute();
    for (const r of rows) {
      out.set(`${r.symbol}|${r.window_start}`, {
        count: Number(r.count),
        volume: r.volume,
        vwap: r.vwap,
        open: r.open,
        high: r.high,
        low: r.low,
        close: r.close,
        revision: r.revision,
      });
    }
  }
  return out;
}

/** Differences between the stored and expected windows (empty when they agree: counts exact, VWAP 1e-9). */
export function compareWindows(
  stored: ReadonlyMap<string, StoredWindow>,
  expected: ReadonlyMap<string, ExpectedWindow>,
): string[] {
  const problems: string[] = [];
  const close = (a: number, b: number) =>
    Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b), 1e-300);
  for (const [key, e] of expected) {
    const s = stored.get(key);
    if (!s) {
      problems.push(`${key}: missing`);
      continue;
    }
    if (s.count !== e.count) problems.push(`${key}: count ${s.count} != ${e.count}`);
    for (const f of ["volume", "vwap", "open", "high", "low", "close"] as const) {
      if (!close(s[f], e[f])) problems.push(`${key}: ${f} ${s[f]} != ${e[f]}`);
    }
  }
  for (const key of stored.keys()) if (!expected.has(key)) problems.push(`${key}: not expected`);
  return problems;
}

/** Resolves once the group's checkpoints cover every frame published so far. */
export async function lagOf(node: Node): Promise<number> {
  return node.rt.bus.lag("analytics-trades", PROCESSOR_GROUP);
}

/** SQLite stores in a fresh temp folder, opened by name (`open("main")`, or as a sharded store's `open`). */
export function tempSqliteStores(prefix: string): {
  open(name: string): Promise<Store>;
  close(): Promise<void>;
} {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const stores: Store[] = [];
  return {
    async open(name) {
      const s = await openStore({ kind: "sqlite", file: join(dir, `${name}.db`) });
      stores.push(s);
      return s;
    },
    async close() {
      for (const s of stores.splice(0)) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// npm run bench -- analytics [case ...] [--trades N] [--runs N]
// Cases: window-vs-duckdb, pipeline, feed, codec, e2e-embedded, e2e-jetstream, latency-embedded,
// latency-jetstream, latest-embedded, latest-jetstream, query (bench/cache.ts, in a process of its own).
// Flags: --e2e-trades N, --latency-rate N, --latency-seconds N,
// --feed-in-process (the distributed latency cases' live feed in this process, as up to session 4, instead of in
// a process of its own: bench/_analytics-feed.ts; the embedded ones always run it here, as `bulwark start` does).

import { fork } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { sql } from "kysely";
import { startAnalytics } from "../src/app/cases/analytics.ts";
import { createRuntime, loadAppConfig, type Runtime } from "../src/app/index.ts";
import { TOPICS } from "../src/cases/analytics/events.ts";
import type { TradeBatch } from "../src/cases/analytics/feed/index.ts";
import {
  decodeTrades,
  encodeTrades,
  FeedGenerator,
  toEventBatch,
  tradesOf,
} from "../src/cases/analytics/feed/index.ts";
import type { Analytics } from "../src/cases/analytics/system.ts";
import type { LogDriver, PublishItem, StoredMessage } from "../src/platform/messaging/index.ts";
import { createLogger } from "../src/platform/observability/index.ts";
import {
  createEventBatch,
  type EventBatch,
  KeyedWindowPipeline,
  KeyInterner,
  tumbling,
  WatermarkTracker,
  WindowAggregator,
} from "../src/platform/stream/index.ts";
import { systemClock } from "../src/platform/time/index.ts";
import type { FeedMessage, FeedStart } from "./_analytics-feed.ts";
import { median, percentile, report } from "./_report.ts";

const BENCH = "analytics";
const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const TRADES = flag("trades", 10_000_000);
const RUNS = flag("runs", 5);
const SYMBOLS = 1_000;
const WINDOW_MS = 5_000;
const OUT_OF_ORDER_MS = 500;
/** Longer than the feed's latest lag (30 s), so no trade is late and both sides aggregate every trade. */
const LATENESS_MS = 60_000;
const BATCH = 65_536;
const SEED = 42;

interface Context {
  /** TRADES seeded trades as stream columns: symbol id, ts, tradeId, price, size. */
  trades(): EventBatch;
}

interface BenchCase {
  name: string;
  run(context: Context): Promise<void>;
}

function timed(runs: number, body: () => void): number[] {
  body(); // warm-up: let the JIT compile the hot loops before timing
  const seconds: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    body();
    seconds.push((performance.now() - t0) / 1_000);
  }
  return seconds;
}

function generate(count: number): EventBatch {
  const feed = new FeedGenerator({ seed: SEED, symbols: SYMBOLS, rate: 100_000 });
  const keys = new KeyInterner();
  const all = createEventBatch(count);
  const chunk = feed.createBatch(BATCH);
  const part = createEventBatch(BATCH);
  while (all.length < count) {
    chunk.length = 0;
    feed.fill(chunk);
    chunk.length = Math.min(chunk.length, count - all.length);
    toEventBatch(chunk, keys, part);
    const at = all.length;
    all.key.set(part.key.subarray(0, part.length), at);
    all.ts.set(part.ts.subarray(0, part.length), at);
    all.id!.set(part.id!.subarray(0, part.length), at);
    all.value.set(part.value.subarray(0, part.length), at);
    all.weight.set(part.weight.subarray(0, part.length), at);
    all.length += part.length;
  }
  return all;
}

/** Views of `all[from, from + n)`, so feeding batches copies nothing. */
function slice(all: EventBatch, from: number, n: number): EventBatch {
  return {
    length: n,
    key: all.key.subarray(from, from + n),
    ts: all.ts.subarray(from, from + n),
    id: all.id!.subarray(from, from + n),
    value: all.value.subarray(from, from + n),
    weight: all.weight.subarray(from, from + n),
  };
}

/** Window operator with its watermark generator, fed in batches; returns (distinct windows, trades counted). */
function runWindowOperator(all: EventBatch): { windows: number; counted: number } {
  const windows = new Set<number>();
  const tracker = new WatermarkTracker({ outOfOrdernessMs: OUT_OF_ORDER_MS, clock: systemClock });
  const aggregator = new WindowAggregator({
    windows: tumbling(WINDOW_MS),
    allowedLatenessMs: LATENESS_MS,
    initialKeyCapacity: SYMBOLS,
    // A late trade may open a window after the on-time firing (revision 1): count each window once.
    onResult: (r) => windows.add(r.key * 1e9 + r.start / WINDOW_MS),
  });
  for (let from = 0; from < all.length; from += BATCH) {
    const batch = slice(all, from, Math.min(BATCH, all.length - from));
    aggregator.processBatch(batch);
    tracker.observeBatch(0, batch.ts, batch.length);
    aggregator.advanceWatermark(tracker.current());
  }
  aggregator.advanceWatermark(Number.POSITIVE_INFINITY);
  return { windows: windows.size, counted: aggregator.stats.accepted };
}

async function loadDuckDb(all: EventBatch): Promise<DuckDBConnection> {
  const instance = await DuckDBInstance.create(":memory:", { threads: "1" });
  const db = await DuckDBConnection.create(instance);
  await db.run("CREATE TABLE trades (symbol INTEGER, ts DOUBLE, price DOUBLE, size DOUBLE)");
  const appender = await db.createAppender("trades");
  for (let i = 0; i < all.length; i++) {
    appender.appendInteger(all.key[i]!);
    appender.appendDouble(all.ts[i]!);
    appender.appendDouble(all.value[i]!);
    appender.appendDouble(all.weight[i]!);
    appender.endRow();
  }
  appender.closeSync();
  return db;
}

const DUCKDB_WINDOWS = `
  CREATE OR REPLACE TEMP TABLE windows AS
  SELECT symbol, floor(ts / ${WINDOW_MS}) * ${WINDOW_MS} AS window_start,
         count(*) AS n, sum(size) AS volume, sum(price * size) / sum(size) AS vwap,
         arg_min(price, ts) AS open, max(price) AS high, min(price) AS low, arg_max(price, ts) AS close
  FROM trades GROUP BY ALL`;

const windowVsDuckDb: BenchCase = {
  name: "window-vs-duckdb",
  async run(context) {
    const all = context.trades();
    const db = await loadDuckDb(all);
    let check = { windows: 0, counted: 0 };
    // Warm both up, then alternate runs, so load from other processes on the shared cores hits both alike.
    check = runWindowOperator(all);
    await db.run(DUCKDB_WINDOWS);
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      let t0 = performance.now();
      check = runWindowOperator(all);
      ours.push((performance.now() - t0) / 1_000);
      t0 = performance.now();
      await db.run(DUCKDB_WINDOWS);
      theirs.push((performance.now() - t0) / 1_000);
    }
    const rows = await db.runAndReadAll("SELECT count(*)::DOUBLE AS w, sum(n)::DOUBLE AS n FROM windows");
    const [duckWindows, duckCount] = rows.getRows()[0] as [number, number];
    db.closeSync();
    if (duckWindows !== check.windows || duckCount !== check.counted) {
      throw new Error(
        `window results differ: bulwark ${check.windows} windows / ${check.counted} trades, duckdb ${duckWindows} / ${duckCount}`,
      );
    }
    const oursRate = all.length / median(ours);
    const theirRate = all.length / median(theirs);
    report({
      bench: BENCH,
      case: `window-operator ${all.length / 1e6}M trades, ${SYMBOLS} symbols, ${WINDOW_MS / 1000}s tumbling`,
      metric: "throughput",
      value: oursRate,
      unit: "trades/s",
      better: "higher",
      anchor: "duckdb 1 thread GROUP BY symbol, window",
      anchorValue: theirRate,
    });
  },
};

const pipeline: BenchCase = {
  name: "pipeline",
  async run(context) {
    const all = context.trades();
    const work = createEventBatch(BATCH);
    const seconds = timed(RUNS, () => {
      const p = new KeyedWindowPipeline({
        windows: tumbling(WINDOW_MS),
        outOfOrdernessMs: OUT_OF_ORDER_MS,
        // A production setting: trades later than 10 s go to the side output.
        allowedLatenessMs: 10_000,
        dedupeCapacity: 2_000_000,
        clock: systemClock,
        indicators: { period: 20 },
        onResult: () => {},
        onAnomaly: () => {},
      });
      for (let from = 0; from < all.length; from += BATCH) {
        const n = Math.min(BATCH, all.length - from);
        const view = slice(all, from, n);
        // Dedupe compacts in place, so each batch gets a fresh copy, as a decoded message would be.
        work.key.set(view.key);
        work.ts.set(view.ts);
        work.id!.set(view.id!);
        work.value.set(view.value);
        work.weight.set(view.weight);
        work.length = n;
        p.processBatch(0, work);
        p.tick();
      }
      p.advanceTo(Number.POSITIVE_INFINITY);
    });
    report({
      bench: BENCH,
      case: "pipeline dedupe+watermark+window+indicators, lateness 10s",
      metric: "throughput",
      value: all.length / median(seconds),
      unit: "trades/s",
      better: "higher",
    });
  },
};

const feed: BenchCase = {
  name: "feed",
  async run() {
    const count = Math.min(TRADES, 2_000_000);
    const seconds = timed(RUNS, () => {
      const generator = new FeedGenerator({ seed: SEED, symbols: SYMBOLS, rate: 100_000 });
      const batch = generator.createBatch(BATCH);
      for (let made = 0; made < count; made += batch.length) {
        batch.length = 0;
        generator.fill(batch);
      }
    });
    report({
      bench: BENCH,
      case: `feed generator ${SYMBOLS} symbols`,
      metric: "throughput",
      value: count / median(seconds),
      unit: "trades/s",
      better: "higher",
    });
  },
};

const codec: BenchCase = {
  name: "codec",
  async run() {
    const frameSize = 4_096;
    const frames = 100;
    const generator = new FeedGenerator({ seed: SEED, symbols: SYMBOLS, rate: 100_000 });
    const batches = Array.from({ length: frames }, () => generator.next(frameSize));
    const encoded = batches.map((b) => encodeTrades(b));
    const json = batches.map((b) => JSON.stringify(tradesOf(b)));
    const total = frames * frameSize;
    const encode = timed(RUNS, () => {
      for (const b of batches) encodeTrades(b);
    });
    const decode = timed(RUNS, () => {
      for (const f of encoded) decodeTrades(f);
    });
    const jsonEncode = timed(RUNS, () => {
      for (const b of batches) JSON.stringify(tradesOf(b));
    });
    const jsonDecode = timed(RUNS, () => {
      for (const s of json) JSON.parse(s);
    });
    const bytes = encoded.reduce((n, f) => n + f.length, 0) / total;
    const jsonBytes = json.reduce((n, s) => n + Buffer.byteLength(s), 0) / total;
    const line = (what: string, ours: number[], theirs: number[]) =>
      report({
        bench: BENCH,
        case: `codec ${what}, ${frameSize}-trade frames`,
        metric: "throughput",
        value: total / median(ours),
        unit: "trades/s",
        better: "higher",
        anchor: `JSON ${what === "encode" ? "stringify" : "parse"}`,
        anchorValue: total / median(theirs),
      });
    line("encode", encode, jsonEncode);
    line("decode", decode, jsonDecode);
    report({
      bench: BENCH,
      case: "codec frame size",
      metric: "size",
      value: bytes,
      unit: "bytes/trade",
      better: "lower",
      anchor: "JSON array",
      anchorValue: jsonBytes,
    });
  },
};

// ---- End to end: generator → log → processor → sharded store, and window latency ---------------------

const E2E_TRADES = flag("e2e-trades", 2_000_000);
const E2E_FRAME = 16_384;
const LATENCY_RATE = flag("latency-rate", 100_000);
const LATENCY_SECONDS = flag("latency-seconds", 20);
const FEED_IN_PROCESS = args.includes("--feed-in-process");

interface E2eSystem {
  /** What the system's config was loaded from, so a feed process can load the same. */
  cwd: string;
  env: Record<string, string>;
  rt: Runtime;
  analytics: Analytics;
  log: LogDriver;
  close(): Promise<void>;
}

async function startE2e(
  profile: "embedded" | "distributed",
  extra: Record<string, string> = {},
  roles: Array<"processor" | "query"> = ["processor"],
): Promise<E2eSystem> {
  const schema = `bench_${process.pid}_${Date.now().toString(36)}`;
  const cwd = mkdtempSync(join(tmpdir(), "bulwark-bench-cwd-"));
  const env = {
    BULWARK_PROFILE: profile,
    BULWARK_DATA_DIR: mkdtempSync(join(tmpdir(), "bulwark-bench-")),
    BULWARK_LOG_LEVEL: "warn",
    BULWARK_COMMERCE_ENABLED: "false",
    BULWARK_ANALYTICS_LIVE_FEED_RATE: "0",
    BULWARK_ANALYTICS_PORTS_INGEST: "0",
    BULWARK_ANALYTICS_PORTS_PROCESSOR: "0",
    BULWARK_ANALYTICS_PORTS_QUERY: "0",
    ...(profile === "distributed" ? { BULWARK_DATABASE_SCHEMA: schema } : {}),
    ...process.env,
    ...extra,
  } as Record<string, string>;
  const config = loadAppConfig({ cwd, env });
  const rt = await createRuntime(config, createLogger({ level: "warn" }));
  const started = await startAnalytics(rt, roles);
  const { analytics } = started;
  return {
    cwd,
    env,
    rt,
    analytics,
    log: started.log!,
    async close() {
      await analytics.stop(); // idempotent: started.stop() below then only closes connections
      await started.jetStream?.deleteNamespace().catch(() => {});
      await started.stop();
      if (profile === "distributed") {
        for (let i = 0; i < config.analytics.shards.count; i++) {
          await sql`drop schema if exists ${sql.id(`${schema}_analytics_shard_${i}`)} cascade`.execute(
            rt.store.db,
          );
        }
        await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(rt.store.db);
      }
      await rt.close();
    },
  };
}

function e2eBatches(count: number): TradeBatch[] {
  // 2 s of event time per 100k trades at most: a realistic rate, so windows close as the feed advances.
  const feed = new FeedGenerator({ seed: SEED, symbols: SYMBOLS, rate: 500_000 });
  const out: TradeBatch[] = [];
  for (let n = 0; n < count; n += E2E_FRAME) out.push(feed.next(Math.min(E2E_FRAME, count - n)));
  return out;
}

/** The anchor: the same frames through the same log with nothing done to them (publish, read, commit). */
async function rawLogSeconds(system: E2eSystem, items: PublishItem[][]): Promise<number> {
  const topic = `bench-raw-${Date.now().toString(36)}`;
  await system.rt.bus.declareTopic({ name: topic, partitions: 8 });
  const t0 = performance.now();
  let total = 0;
  for (const batch of items) total += batch.length;
  const readers = await Promise.all(
    Array.from({ length: 8 }, (_, p) => system.log.openReader(topic, "bench-raw", p)),
  );
  let read = 0;
  const reading = Promise.all(
    readers.map(async (reader) => {
      // A read outlives the 50 ms it is waited for: it is awaited again, never replaced (its messages are
      // handed out to it once; abandoning it lost them, and the anchor then waited forever).
      let pending: Promise<StoredMessage[]> | undefined;
      while (read < total) {
        pending ??= reader.next(64);
        const next = await Promise.race([pending, new Promise<null>((r) => setTimeout(() => r(null), 50))]);
        if (!next) continue;
        pending = undefined;
        if (next.length === 0) continue;
        read += next.length;
        await reader.commit(next[next.length - 1]!.offset);
      }
      void pending?.catch(() => {});
    }),
  );
  for (const batch of items) await system.rt.bus.publishBatch(batch.map((i) => ({ ...i, topic })));
  await reading;
  const seconds = (performance.now() - t0) / 1_000;
  await Promise.all(readers.map((r) => r.close()));
  return seconds;
}

async function e2eSeconds(
  system: E2eSystem,
  batches: TradeBatch[],
  count: number,
): Promise<{ seconds: number }> {
  const processor = system.analytics.processor!;
  await processor.start();
  while (processor.partitions().length < 8) await new Promise((r) => setTimeout(r, 20));
  const t0 = performance.now();
  const base = processor.processed;
  for (const batch of batches) await system.analytics.publisher.publish(batch);
  // `processed` counts trades whose results are flushed to the shards (checkpoints come on their own timer).
  while (processor.processed - base < count) await new Promise((r) => setTimeout(r, 2));
  return { seconds: (performance.now() - t0) / 1_000 };
}

function e2eCase(profile: "embedded" | "distributed"): BenchCase {
  return {
    name: `e2e-${profile === "embedded" ? "embedded" : "jetstream"}`,
    async run() {
      const count = E2E_TRADES;
      const batches = e2eBatches(count);
      const e2e: number[] = [];
      const raw: number[] = [];
      for (let r = 0; r < Math.min(RUNS, 3); r++) {
        const system = await startE2e(profile);
        try {
          const items = batches.map((b) => system.analytics.publisher.frames(b));
          raw.push(await rawLogSeconds(system, items));
          e2e.push((await e2eSeconds(system, batches, count)).seconds);
        } finally {
          await system.close();
        }
      }
      report({
        bench: BENCH,
        case: `end-to-end ${profile} (${count} trades, feed → log → processor → ${profile === "embedded" ? "SQLite" : "Postgres"} shards)`,
        metric: "throughput",
        value: count / median(e2e),
        unit: "trades/s",
        better: "higher",
        anchor: "raw log: the same frames published and read back, no processing",
        anchorValue: count / median(raw),
      });
    },
  };
}

interface Probe {
  symbol: string;
  ts: number;
  at: number;
}

interface LiveFeed {
  /** Wall-clock time the feed started (its event time starts there too). */
  start: number;
  publishing: boolean;
  /** Settles once the feed ended and the timing counters are printed. */
  done: Promise<void>;
  /** The newest published trade of the most recently published symbol (with `track`). */
  probe(): Promise<Probe | undefined>;
}

/**
 * Starts the processor, waits until it holds all 8 partitions, then publishes the seeded feed live for
 * LATENCY_SECONDS (event time = wall time, a fill every 5 ms). On the distributed profile the feed runs in a
 * process of its own (bench/_analytics-feed.ts), as it does in production (ingest or an exchange gateway
 * publishes to JetStream, the processor is another process): in this process it took a share of the one event
 * loop the 8 partitions, their store and broker clients and the poller all wait on. `--feed-in-process` runs it
 * here, as the benches did up to session 4. The embedded profile keeps it here: `bulwark start` runs the live
 * feed and the processor in one process, and the log hands this process's rows to its readers without a poll.
 */
async function liveFeed(
  system: E2eSystem,
  profile: "embedded" | "distributed",
  track = false,
): Promise<LiveFeed> {
  const processor = system.analytics.processor!;
  await processor.start();
  while (processor.partitions().length < 8) await new Promise((r) => setTimeout(r, 20));
  const loop = monitorEventLoopDelay({ resolution: 1 });
  const finish = async (cpu: NodeJS.CpuUsage, feedCpuSeconds?: number) => {
    live.publishing = false;
    loop.disable();
    await timingCounters(system, loop, process.cpuUsage(cpu), feedCpuSeconds);
  };
  const live: LiveFeed = {
    start: 0,
    publishing: true,
    done: Promise.resolve(),
    probe: async () => undefined,
  };
  if (profile === "distributed" && !FEED_IN_PROCESS) {
    const child = fork(join(dirname(new URL(import.meta.url).pathname), "_analytics-feed.ts"), [], {
      env: system.env,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let onProbe: ((probe: Probe | undefined) => void) | undefined;
    let started!: (at: number) => void;
    let ended!: (cpuSeconds: number) => void;
    const startedAt = new Promise<number>((resolve) => {
      started = resolve;
    });
    const endedWith = new Promise<number>((resolve, reject) => {
      ended = resolve;
      child.on("exit", (code) => reject(new Error(`the feed process exited with ${code} before it ended`)));
    });
    child.on("message", (message: FeedMessage) => {
      if ("started" in message) started(message.started);
      else if ("probe" in message) onProbe?.(message.probe ?? undefined);
      else ended(message.cpuSeconds);
    });
    const start: FeedStart = {
      cwd: system.cwd,
      rate: LATENCY_RATE,
      seconds: LATENCY_SECONDS,
      seed: SEED,
      symbols: SYMBOLS,
      track,
    };
    child.send(start);
    live.start = await startedAt;
    loop.enable();
    const cpu = process.cpuUsage();
    live.probe = () =>
      new Promise((resolve) => {
        onProbe = resolve;
        child.send({ probe: true });
      });
    live.done = endedWith.then((feedCpu) => finish(cpu, feedCpu));
    return live;
  }
  const start = Date.now();
  live.start = start;
  const feed = new FeedGenerator({
    seed: SEED,
    symbols: SYMBOLS,
    rate: LATENCY_RATE,
    startTs: start,
    disorder: { maxOutOfOrderMs: 400, lateRate: 0 },
    bursts: { perMinute: 0 },
  });
  const batch = feed.createBatch(65_536);
  const end = start + LATENCY_SECONDS * 1_000;
  /** Per symbol: the newest event time published, and when it was published. */
  const newest = new Map<string, { ts: number; at: number }>();
  live.probe = async () => {
    let probe: Probe | undefined;
    for (const [symbol, t] of newest) if (!probe || t.at >= probe.at) probe = { symbol, ...t };
    return probe;
  };
  loop.enable();
  const cpu = process.cpuUsage();
  live.done = (async () => {
    while (Date.now() < end) {
      batch.length = 0;
      feed.fill(batch, Date.now());
      if (batch.length > 0) {
        await system.analytics.publisher.publish(batch);
        const at = Date.now();
        if (track) {
          for (let i = 0; i < batch.length; i++) {
            const symbol = batch.instruments[batch.instrument[i]!]!.symbol;
            const ts = batch.ts[i]!;
            if (ts > (newest.get(symbol)?.ts ?? -1)) newest.set(symbol, { ts, at });
          }
        }
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await finish(cpu);
  })();
  return live;
}

/**
 * Where a latency run's time went, on stderr (the JSON lines stay the results): CPU used, the event loop's
 * delay (a stall delays every partition, the publisher and the poller alike) and the processor's checkpoints.
 */
async function timingCounters(
  system: E2eSystem,
  loop: ReturnType<typeof monitorEventLoopDelay>,
  cpu: NodeJS.CpuUsage,
  feedCpuSeconds?: number,
) {
  const ms = (ns: number) => Number((ns / 1e6).toFixed(1));
  const metric = async (name: string) =>
    (await system.rt.registry.getSingleMetric(name)?.get())?.values ?? [];
  const sum = (values: { metricName?: string; value: number }[], suffix: string) =>
    values.find((v) => v.metricName?.endsWith(suffix))?.value ?? 0;
  const cp = await metric("bulwark_analytics_checkpoint_seconds");
  const bytes = await metric("bulwark_analytics_checkpoint_bytes");
  const count = sum(cp, "_count");
  process.stderr.write(
    `${JSON.stringify({
      // The whole process (feed, processor, query side): less noisy than latency on a shared machine.
      cpuSecondsPerRun: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
      ...(feedCpuSeconds === undefined ? {} : { feedProcessCpuSeconds: feedCpuSeconds }),
      loopDelayMs: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) },
      checkpoints: {
        count,
        meanMs: count ? Number(((1_000 * sum(cp, "_sum")) / count).toFixed(1)) : 0,
        meanBytes: count ? Math.round(sum(bytes, "_sum") / count) : 0,
      },
    })}\n`,
  );
}

/**
 * An index for the latency poller's read (rows updated since a time), made by the bench on its own shards:
 * the product has no reader of that shape. Without it every poll scanned each shard's table, and at one poll
 * per 2 ms those scans were about a quarter of Postgres's CPU in a run on the 2-core machine, CPU the system
 * under test was short of. On Postgres the table must also have statistics (a fresh one has none, and then
 * the planner guesses a third of the rows and scans): `analyzed()` gives them once rows exist.
 */
async function pollerIndex(system: E2eSystem, profile: "embedded" | "distributed") {
  for (const shard of system.analytics.shards.shards) {
    await shard.db.schema
      .createIndex("bench_window_results_by_update")
      .ifNotExists()
      .on("window_results")
      .column("updated_at")
      .execute();
  }
  return {
    async analyzed() {
      if (profile !== "distributed") return;
      for (const shard of system.analytics.shards.shards) await sql`analyze window_results`.execute(shard.db);
    },
  };
}

/**
 * The latency poller's read: the window rows updated since `since`, from every shard. On Postgres the shards
 * are schemas of one database here, so one UNION ALL statement reads them all at one instant. Querying them
 * one after the other every 2 ms made the poller the process's busiest Postgres client (about 1,000
 * statements/s; their socket writes alone took 1.7 s of this process's event loop in a 15 s run, the loop
 * the processor runs on), and a row committed just after its shard's turn waited for three more round trips
 * before it could be seen. Still a reader's view of committed rows, polled as often as before.
 */
function windowPoller(
  system: E2eSystem,
  profile: "embedded" | "distributed",
): (since: number) => AsyncIterable<{ symbol: string; window_end: number; updated_at: number }[]> {
  const shards = system.analytics.shards.shards;
  if (profile === "embedded") {
    return async function* (since) {
      for (const shard of shards) {
        yield await shard.db
          .selectFrom("window_results")
          .select(["symbol", "window_end", "updated_at"])
          .where("updated_at", ">=", since)
          .execute();
      }
    };
  }
  const base = system.rt.config.database.schema ?? "bulwark";
  return async function* (since) {
    const selects = shards.map(
      (_, i) =>
        sql`select symbol, window_end, updated_at from ${sql.id(`${base}_analytics_shard_${i}`, "window_results")} where updated_at >= ${since}`,
    );
    const { rows } = await sql<{
      symbol: string;
      window_end: number;
      updated_at: number;
    }>`${sql.join(selects, sql` union all `)}`.execute(system.rt.store.db);
    yield rows;
  };
}

/**
 * The latency cases' in-run reference: how long the log itself takes to deliver a trade frame at this rate, to
 * a reader of its own (a group of its own on the trades topic) that does nothing with it: publish to read, per
 * frame, from the frame's publishedAt. No result can be visible sooner, so the ratio (anchor / ours, < 1) says how
 * much of our latency the log accounts for.
 */
async function logDelivery(system: E2eSystem, from: () => number): Promise<() => Promise<number[]>> {
  const readers = await Promise.all(
    Array.from({ length: 8 }, (_, p) => system.log.openReader(TOPICS.trades, "bench-delivery", p)),
  );
  const latencies: number[] = [];
  let reading = true;
  const done = Promise.all(
    readers.map(async (reader) => {
      while (reading) {
        const messages = await reader.next(64);
        if (!reading) break;
        const now = Date.now();
        for (const m of messages) if (m.publishedAt > from()) latencies.push(now - m.publishedAt);
        if (messages.length > 0) await reader.commit(messages[messages.length - 1]!.offset);
      }
    }),
  );
  // A run that fails before it asks for the latencies closes the system under the loops: nothing to report.
  done.catch(() => {});
  return async () => {
    // A reader's next() waits for data; closing the reader ends it with [], and the loops see `reading` off.
    reading = false;
    await Promise.all(readers.map((r) => r.close()));
    await done.catch(() => {});
    return latencies;
  };
}

/**
 * Window latency at a steady live rate: trades published every 5 ms as they "arrive" (event time = wall
 * time), shards polled every 2 ms. A window's latency is when its row first shows up minus when the
 * watermark could pass its end (end + B, B the out-of-orderness bound): the processor's share of freshness.
 */
function latencyCase(profile: "embedded" | "distributed"): BenchCase {
  return {
    name: `latency-${profile === "embedded" ? "embedded" : "jetstream"}`,
    async run() {
      const system = await startE2e(profile, { BULWARK_ANALYTICS_WINDOWS_OUT_OF_ORDERNESS_MS: "500" });
      const B = 500;
      try {
        const index = await pollerIndex(system, profile);
        const live = await liveFeed(system, profile);
        const delivery = await logDelivery(system, () => live.start + 3_000);
        const start = live.start;
        const seen = new Set<string>();
        const latencies: number[] = [];
        /** When the processor built each window's row (its updated_at), after end + B: the share before the write. */
        const closed: number[] = [];
        /** From the processor's close of the window (the watermark passing its end there) to the row seen. */
        const afterClose: number[] = [];
        /** The slowest window of each window end: whether the p99 is one slow second or every second's tail. */
        const slowest = new Map<number, number>();
        const poll = windowPoller(system, profile);
        let since = 0;
        let analyzed = false;
        while (live.publishing) {
          if (!analyzed && Date.now() > start + 2_000) {
            analyzed = true;
            await index.analyzed();
          }
          for await (const rows of poll(since)) {
            const now = Date.now();
            for (const row of rows) {
              const key = `${row.symbol}|${row.window_end}`;
              if (seen.has(key)) continue;
              seen.add(key);
              // Skip the first seconds: warm-up (JIT, first windows of every symbol).
              if (row.window_end > start + 3_000) {
                const latency = now - (row.window_end + B);
                latencies.push(latency);
                closed.push(Number(row.updated_at) - (row.window_end + B));
                afterClose.push(now - Number(row.updated_at));
                const end = Number(row.window_end);
                slowest.set(end, Math.max(slowest.get(end) ?? 0, latency));
              }
            }
          }
          since = Date.now() - 200;
          await new Promise((r) => setTimeout(r, 2));
        }
        await live.done;
        const delivered = await delivery();
        process.stderr.write(
          `${JSON.stringify({
            windowRowBuiltMs: { p50: percentile(closed, 50), p99: percentile(closed, 99) },
            visibleAfterCloseMs: { p50: percentile(afterClose, 50), p99: percentile(afterClose, 99) },
            slowestWindowPerSecondMs: [...slowest].sort(([a], [b]) => a - b).map(([, ms]) => ms),
          })}\n`,
        );
        for (const p of [50, 99] as const) {
          report({
            bench: BENCH,
            case: `window visible after the watermark passes its end, ${profile}, ${LATENCY_RATE} trades/s (${latencies.length} windows)`,
            metric: `p${p} latency`,
            value: percentile(latencies, p),
            unit: "ms",
            better: "lower",
            anchor: `log delivery: a trade frame published to read by a reader doing nothing (${delivered.length} frames)`,
            anchorValue: percentile(delivered, p),
          });
        }
      } finally {
        await system.close();
      }
    },
  };
}

/**
 * Latest-tile freshness at a steady live rate: a trade's publish time to the moment `GET /symbols/:s/latest`
 * (cache-aside, as dashboards read it) shows that trade or a newer one. One probe at a time: the newest
 * published trade of a popular symbol, polled every millisecond through the query service (Fastify inject).
 */
function latestCase(profile: "embedded" | "distributed"): BenchCase {
  return {
    name: `latest-${profile === "embedded" ? "embedded" : "jetstream"}`,
    async run() {
      const system = await startE2e(profile, { BULWARK_ANALYTICS_WINDOWS_OUT_OF_ORDERNESS_MS: "500" }, [
        "processor",
        "query",
      ]);
      try {
        const query = system.analytics.query!;
        const live = await liveFeed(system, profile, true);
        const delivery = await logDelivery(system, () => live.start + 3_000);
        const start = live.start;
        const latencies: number[] = [];
        let timeouts = 0;
        while (live.publishing) {
          // The most active symbol's newest trade: the one a dashboard watches.
          const probe = await live.probe();
          if (!probe || Date.now() < start + 3_000) {
            await new Promise((r) => setTimeout(r, 10));
            continue;
          }
          const deadline = probe.at + 2_000;
          for (;;) {
            const res = await query.service.app.inject({
              method: "GET",
              url: `/symbols/${encodeURIComponent(probe.symbol)}/latest`,
            });
            const body =
              res.statusCode === 200 ? (JSON.parse(res.body) as { lastTrade?: { ts: number } }) : undefined;
            const now = Date.now();
            if ((body?.lastTrade?.ts ?? -1) >= probe.ts) {
              latencies.push(now - probe.at);
              break;
            }
            if (now > deadline) {
              timeouts++;
              break;
            }
            await new Promise((r) => setTimeout(r, 1));
          }
          // inject() settles in microtasks: yield a timer turn so the publisher runs between probes.
          await new Promise((r) => setTimeout(r, 5));
        }
        await live.done;
        const delivered = await delivery();
        for (const p of [50, 99] as const) {
          report({
            bench: BENCH,
            case: `trade visible in GET /symbols/:s/latest after its publish, ${profile}, ${LATENCY_RATE} trades/s (${latencies.length} probes, ${timeouts} over 2 s)`,
            metric: `p${p} latency`,
            value: percentile(latencies, p),
            unit: "ms",
            better: "lower",
            anchor: `log delivery: a trade frame published to read by a reader doing nothing (${delivered.length} frames)`,
            anchorValue: percentile(delivered, p),
          });
        }
      } finally {
        await system.close();
      }
    },
  };
}

/**
 * Issue 6's query figure (p95 cached against the raw trades table), so that `npm run bench -- analytics` holds
 * every figure of the case: bench/cache.ts with its defaults, in a process of its own (its stores and heap stay
 * apart from this run's), its result lines passed through as they come.
 */
const query: BenchCase = {
  name: "query",
  async run() {
    const child = fork(join(dirname(new URL(import.meta.url).pathname), "cache.ts"), [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    if (code !== 0) throw new Error(`bench/cache.ts exited with ${code}`);
  },
};

const cases: BenchCase[] = [
  windowVsDuckDb,
  pipeline,
  feed,
  codec,
  e2eCase("embedded"),
  e2eCase("distributed"),
  latencyCase("embedded"),
  latencyCase("distributed"),
  latestCase("embedded"),
  latestCase("distributed"),
  query,
];

const BOOLEAN_FLAGS = new Set(["--feed-in-process"]);
const selected = args.filter(
  (a, i) => !a.startsWith("--") && !(args[i - 1]?.startsWith("--") && !BOOLEAN_FLAGS.has(args[i - 1]!)),
);
let trades: EventBatch | undefined;
const context: Context = {
  trades: () => {
    trades ??= generate(TRADES);
    return trades;
  },
};
for (const c of cases) {
  if (selected.length === 0 || selected.includes(c.name)) await c.run(context);
}

// npm run bench -- analytics [case ...] [--trades N] [--runs N]
// Cases: window-vs-duckdb, pipeline, feed, codec. End-to-end cases (log, NATS, store) join the list later.
import { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import {
  decodeTrades,
  encodeTrades,
  FeedGenerator,
  toEventBatch,
  tradesOf,
} from "../src/cases/analytics/feed/index.ts";
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
import { median, report } from "./_report.ts";

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

const cases: BenchCase[] = [windowVsDuckDb, pipeline, feed, codec];

const selected = args.filter((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
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

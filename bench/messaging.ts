// npm run bench -- messaging [--quick]
// Per adapter: publish→consume throughput and latency at a fixed rate; plus the raw NATS JetStream client
// (no Bulwark code) doing the same publish→consume in the same run, and the ratio.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Type } from "@sinclair/typebox";
import {
  type Bus,
  createBus,
  defineEvent,
  EventRegistry,
  embeddedDriver,
  jetStreamDriver,
  MemoryLogDriver,
} from "../src/platform/messaging/index.ts";
import { openStore } from "../src/platform/storage/index.ts";
import { median, percentile, report } from "./_report.ts";

const quick = process.argv.includes("--quick");
const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);
const RUNS = quick ? 3 : 5;
const NATS = process.env.NATS_URL ?? "127.0.0.1:4222";
const Tick = defineEvent(
  "bench.tick",
  1,
  Type.Object({ id: Type.Integer(), sentAt: Type.Number(), pad: Type.String() }),
);
// About 100 bytes on the wire, as in the NATS anchor figures.
const PAD = "x".repeat(50);
const PUBLISH_BATCH = 1000;

interface Adapter {
  name: string;
  count: number;
  open(): Promise<{ bus: Bus; close(): Promise<void> }>;
}

let topicSeq = 0;

/** Publishes `count` messages in batches while one subscriber consumes them; msgs/s from first publish to last ack. */
async function throughput(bus: Bus, count: number): Promise<number> {
  const topic = `tp${process.pid}_${topicSeq++}`;
  await bus.declareTopic({ name: topic, partitions: 4 });
  let received = 0;
  const { promise: finished, resolve: done } = Promise.withResolvers<void>();
  const subscription = bus.subscribe({
    topic,
    group: "bench",
    batchSize: 512,
    handler: () => {
      if (++received === count) done();
    },
  });
  await waitAssigned(() => subscription.assigned(), 4);
  const start = performance.now();
  for (let i = 0; i < count; i += PUBLISH_BATCH) {
    const items = [];
    for (let j = i; j < Math.min(count, i + PUBLISH_BATCH); j++) {
      items.push({ topic, key: `k${j % 64}`, event: Tick.create({ id: j, sentAt: 0, pad: PAD }) });
    }
    await bus.publishBatch(items);
  }
  await finished;
  const elapsed = performance.now() - start;
  await subscription.stop();
  return count / (elapsed / 1000);
}

/** Publishes one message at a time at `rate`/s for `seconds`; latency from publish call to handler. */
async function latency(bus: Bus, rate: number, seconds: number): Promise<number[]> {
  const topic = `lat${process.pid}_${topicSeq++}`;
  await bus.declareTopic({ name: topic, partitions: 4 });
  const samples: number[] = [];
  const total = rate * seconds;
  const { promise: finished, resolve: done } = Promise.withResolvers<void>();
  const subscription = bus.subscribe({
    topic,
    group: "bench",
    handler: (m) => {
      samples.push(performance.now() - (m.payload as { sentAt: number }).sentAt);
      if (samples.length === total) done();
    },
  });
  await waitAssigned(() => subscription.assigned(), 4);
  const start = performance.now();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      bus.publish(topic, `k${i % 64}`, Tick.create({ id: i, sentAt: performance.now(), pad: PAD })),
    );
  }
  await Promise.all(pending);
  await finished;
  await subscription.stop();
  return samples;
}

async function waitAssigned(assigned: () => number[], n: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (assigned().length < n) {
    if (Date.now() > deadline) throw new Error("partitions never assigned");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The raw client: pipelined js.publish with msgID, a durable pull consumer with cumulative acks. */
async function rawJetStream(count: number): Promise<number> {
  const nc = await connect({ servers: NATS, noAsyncTraces: true });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const stream = `bench_raw_${process.pid}_${topicSeq++}`;
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
  await jsm.consumers.add(stream, { durable_name: "raw", ack_policy: AckPolicy.All });
  const consumer = await js.consumers.get(stream, "raw");
  const messages = await consumer.consume({ max_messages: 1024 });
  let received = 0;
  const consumed = (async () => {
    let sinceAck = 0;
    for await (const m of messages) {
      JSON.parse(m.string());
      received++;
      if (++sinceAck >= 256 || m.info.pending === 0) {
        m.ack();
        sinceAck = 0;
      }
      if (received === count) {
        m.ack();
        break;
      }
    }
  })();
  const start = performance.now();
  for (let i = 0; i < count; i += PUBLISH_BATCH) {
    const acks = [];
    for (let j = i; j < Math.min(count, i + PUBLISH_BATCH); j++) {
      const body = JSON.stringify({ id: j, sentAt: 0, pad: PAD });
      acks.push(js.publish(`${stream}.p.${j % 4}`, body, { msgID: `${stream}-${j}` }));
    }
    await Promise.all(acks);
  }
  await consumed;
  const elapsed = performance.now() - start;
  messages.stop();
  await jsm.streams.delete(stream);
  await nc.close();
  return count / (elapsed / 1000);
}

/** The embedded log's own work done by hand on node:sqlite: the same rows, 1000-row transactions, read back by partition. */
function rawSqlite(count: number): number {
  const dir = mkdtempSync(join(tmpdir(), "bwk-bench-raw-"));
  const db = new DatabaseSync(join(dir, "raw.db"));
  try {
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
    db.exec(`create table log (seq integer primary key, topic text, partition integer, msg_id text, key text,
      type text, version integer, headers text, payload text, published_at integer)`);
    db.exec("create index log_partition on log (topic, partition, seq)");
    const insert =
      db.prepare(`insert into log (topic, partition, msg_id, key, type, version, headers, payload,
      published_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const read = db.prepare(
      "select * from log where topic = ? and partition = ? and seq > ? order by seq limit 512",
    );
    const start = performance.now();
    for (let i = 0; i < count; i += PUBLISH_BATCH) {
      db.exec("begin");
      for (let j = i; j < Math.min(count, i + PUBLISH_BATCH); j++) {
        const payload = JSON.stringify({ id: j, sentAt: 0, pad: PAD });
        insert.run("raw", j % 4, `id-${j}`, `k${j % 64}`, "bench.tick", 1, "{}", payload, Date.now());
      }
      db.exec("commit");
    }
    let received = 0;
    for (let p = 0; p < 4; p++) {
      for (let cursor = 0; ; ) {
        const rows = read.all("raw", p, cursor) as Array<{ seq: number; payload: string }>;
        if (rows.length === 0) break;
        for (const row of rows) JSON.parse(row.payload);
        received += rows.length;
        cursor = rows[rows.length - 1]!.seq;
      }
    }
    if (received !== count) throw new Error(`raw sqlite read ${received} of ${count}`);
    return count / ((performance.now() - start) / 1000);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const registry = new EventRegistry().register(Tick);
const namespace = `bench_${process.pid}`;
const adapters: Adapter[] = [
  {
    name: "memory",
    count: quick ? 20_000 : 200_000,
    async open() {
      const bus = createBus({ driver: new MemoryLogDriver(), registry, heartbeatMs: 1_000 });
      return { bus, close: () => bus.close() };
    },
  },
  {
    name: "embedded-sqlite",
    count: quick ? 20_000 : 200_000,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), "bwk-bench-"));
      const store = await openStore({ kind: "sqlite", file: join(dir, "bench.db") });
      const bus = createBus({ driver: await embeddedDriver({ store }), registry, heartbeatMs: 1_000 });
      return {
        bus,
        async close() {
          await bus.close();
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: "jetstream",
    count: quick ? 20_000 : 100_000,
    async open() {
      const driver = await jetStreamDriver({ servers: NATS, namespace });
      const bus = createBus({ driver, registry, system: "nats", heartbeatMs: 1_000 });
      return {
        bus,
        async close() {
          await bus.close();
          const cleaner = await jetStreamDriver({ servers: NATS, namespace });
          await cleaner.deleteNamespace();
          await cleaner.close();
        },
      };
    },
  },
];

const RATE = 2_000;
const SECONDS = quick ? 1 : 3;
for (const adapter of adapters.filter((a) => !only || a.name === only)) {
  const rates: number[] = [];
  const raw: number[] = [];
  const p50s: number[] = [];
  const p99s: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const { bus, close } = await adapter.open();
    try {
      rates.push(await throughput(bus, adapter.count));
      // Interleaved with the adapter's runs, so both see the same machine noise.
      if (adapter.name === "jetstream") raw.push(await rawJetStream(adapter.count));
      if (adapter.name === "embedded-sqlite") raw.push(rawSqlite(adapter.count));
      const samples = await latency(bus, RATE, SECONDS);
      p50s.push(percentile(samples, 50));
      p99s.push(percentile(samples, 99));
    } finally {
      await close();
    }
  }
  if (adapter.name === "embedded-sqlite") {
    report({
      bench: "messaging",
      case: "embedded-sqlite target (issue: >= 100k msgs/s with batching)",
      metric: "throughput",
      value: median(rates),
      unit: "msgs/s",
      better: "higher",
      anchor: "target",
      anchorValue: 100_000,
    });
  }
  if (raw.length > 0) {
    report({
      bench: "messaging",
      case: `${adapter.name} raw client, same rows and batches (no Bulwark)`,
      metric: "throughput",
      value: median(raw),
      unit: "msgs/s",
      better: "higher",
    });
  }
  report({
    bench: "messaging",
    case: `${adapter.name} publish→consume (batches of ${PUBLISH_BATCH})`,
    metric: "throughput",
    value: median(rates),
    unit: "msgs/s",
    better: "higher",
    ...(adapter.name === "jetstream"
      ? { anchor: "raw @nats-io/jetstream client, same run (target ratio >= 0.7)", anchorValue: median(raw) }
      : adapter.name === "embedded-sqlite"
        ? { anchor: "raw node:sqlite prepared inserts + reads, same run", anchorValue: median(raw) }
        : {}),
  });
  for (const [metric, values] of [
    ["p50 latency", p50s],
    ["p99 latency", p99s],
  ] as const) {
    report({
      bench: "messaging",
      case: `${adapter.name} publish→consume at ${RATE} msgs/s`,
      metric,
      value: median(values),
      unit: "ms",
      better: "lower",
    });
  }
}
process.exit(0);

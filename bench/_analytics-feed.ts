// The live trade feed of bench/analytics.ts's latency cases in a process of its own, as in production (the
// ingest service or an exchange gateway publishes, the processor is another process): the seeded generator
// and the publisher then do not share the processor's event loop. The parent passes the system's config in
// the environment, says go, and is told when the feed started and ended; on request it answers with the
// newest published trade (the `latest` probe).
import { startAnalytics } from "../src/app/cases/analytics.ts";
import { createRuntime, loadAppConfig } from "../src/app/index.ts";
import { FeedGenerator } from "../src/cases/analytics/feed/index.ts";
import { createLogger } from "../src/platform/observability/index.ts";

export interface FeedStart {
  cwd: string;
  rate: number;
  seconds: number;
  seed: number;
  symbols: number;
  /** Keep the newest trade per symbol (for probes); costs a map update per trade. */
  track: boolean;
}

export type FeedMessage =
  | { started: number }
  | { probe: { symbol: string; ts: number; at: number } | null }
  | { done: true; cpuSeconds: number };

const send = (message: FeedMessage) => process.send!(message);

process.once("message", async (start: FeedStart) => {
  const config = loadAppConfig({ cwd: start.cwd, env: process.env as Record<string, string> });
  const rt = await createRuntime(config, createLogger({ level: "warn" }));
  const started = await startAnalytics(rt, []);
  const publisher = started.analytics.publisher;
  /** Per symbol: the newest event time published, and when it was published. */
  const newest = new Map<string, { ts: number; at: number }>();
  process.on("message", (message: { probe: true }) => {
    if (!message.probe) return;
    // The most recently published symbol's newest trade, as the in-process bench picks it.
    let probe: { symbol: string; ts: number; at: number } | null = null;
    for (const [symbol, t] of newest) if (!probe || t.at >= probe.at) probe = { symbol, ...t };
    send({ probe });
  });
  const t0 = Date.now();
  const feed = new FeedGenerator({
    seed: start.seed,
    symbols: start.symbols,
    rate: start.rate,
    startTs: t0,
    disorder: { maxOutOfOrderMs: 400, lateRate: 0 },
    bursts: { perMinute: 0 },
  });
  const batch = feed.createBatch(65_536);
  const end = t0 + start.seconds * 1_000;
  const cpu = process.cpuUsage();
  send({ started: t0 });
  while (Date.now() < end) {
    batch.length = 0;
    feed.fill(batch, Date.now());
    if (batch.length > 0) {
      await publisher.publish(batch);
      const at = Date.now();
      if (start.track) {
        for (let i = 0; i < batch.length; i++) {
          const symbol = batch.instruments[batch.instrument[i]!]!.symbol;
          const ts = batch.ts[i]!;
          if (ts > (newest.get(symbol)?.ts ?? -1)) newest.set(symbol, { ts, at });
        }
      }
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const used = process.cpuUsage(cpu);
  send({ done: true, cpuSeconds: Number(((used.user + used.system) / 1e6).toFixed(2)) });
  await started.stop();
  await rt.close();
  process.disconnect();
});

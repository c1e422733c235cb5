import { once } from "node:events";
import { type CliCommand, type CliContext, parseCliArgs, UsageError } from "../command.ts";

const command: CliCommand = {
  name: "feed",
  summary: "generate a seeded, deterministic market-data feed as NDJSON trades on stdout",
  usage:
    "bulwark feed --rate <trades/s> --symbols <n> --duration <s> [--seed <n>] [--start now|<ISO time>] [--fast]\n" +
    "  paced in real time unless --fast; progress goes to stderr; the same options give the same trades",
  async run(args, ctx) {
    const { values, positionals } = parseCliArgs(args, {
      rate: { type: "string" },
      symbols: { type: "string" },
      duration: { type: "string" },
      seed: { type: "string" },
      start: { type: "string" },
      fast: { type: "boolean" },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const rate = number("--rate", values.rate, { min: 1, max: 10_000_000 });
    const symbols = number("--symbols", values.symbols, { min: 1, max: 1_000_000, integer: true });
    const duration = number("--duration", values.duration, { min: 0.001, max: 86_400 });
    const seed =
      values.seed === undefined
        ? 42
        : number("--seed", values.seed, { min: 0, max: 2 ** 32 - 1, integer: true });
    const startTs = parseStart(values.start);
    // Loaded here so `bulwark help` stays fast.
    const { FeedGenerator, tradesOf } = await import("../../cases/analytics/feed/index.ts");
    const feed = new FeedGenerator({ seed, symbols, rate, ...(startTs === undefined ? {} : { startTs }) });
    const end = feed.startTs + duration * 1000;
    const batch = feed.createBatch(Math.max(64, Math.min(65_536, Math.ceil(rate / 20))));
    const wallStart = performance.now();
    let written = 0;
    let lastProgress = wallStart;
    while (!ctx.signal.aborted) {
      batch.length = 0;
      // Real time: emit what has arrived by now on the event-time clock; fast: as much as fits.
      const until = values.fast ? end : Math.min(end, feed.startTs + (performance.now() - wallStart));
      feed.fill(batch, until);
      if (batch.length > 0) {
        const text = `${tradesOf(batch)
          .map((t) => JSON.stringify(t))
          .join("\n")}\n`;
        written += batch.length;
        if (!ctx.stdout.write(text)) await once(ctx.stdout, "drain");
      }
      if (feed.nextArrival > end) break;
      const now = performance.now();
      if (now - lastProgress >= 1_000) {
        lastProgress = now;
        progress(ctx, written, feed.stats, (now - wallStart) / 1000, duration);
      }
      if (!values.fast && batch.length === 0) await new Promise((r) => setTimeout(r, 5));
    }
    progress(ctx, written, feed.stats, (performance.now() - wallStart) / 1000, duration);
    return 0;
  },
};

function progress(
  ctx: CliContext,
  written: number,
  stats: { duplicates: number; outOfOrder: number; late: number },
  elapsed: number,
  duration: number,
) {
  ctx.stderr.write(
    `feed: ${written} trades (${stats.duplicates} duplicates, ${stats.outOfOrder} out of order, ${stats.late} late) in ${elapsed.toFixed(1)} s of ${duration} s event time\n`,
  );
}

function number(
  flag: string,
  raw: string | undefined,
  { min, max, integer = false }: { min: number; max: number; integer?: boolean },
): number {
  if (raw === undefined) throw new UsageError(`${flag} is required`);
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new UsageError(
      `${flag} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

function parseStart(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (raw === "now") return Date.now();
  const ts = Date.parse(raw);
  if (Number.isNaN(ts))
    throw new UsageError(`--start must be "now" or an ISO time, got ${JSON.stringify(raw)}`);
  return ts;
}

export default command;

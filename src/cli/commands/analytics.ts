import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { type CliCommand, type CliContext, parseCliArgs, UsageError } from "../command.ts";

const USAGE =
  "bulwark analytics report --date <YYYY-MM-DD> [--format json|csv] [--out <file>] [--window <ms>]\n" +
  "  end-of-day report per symbol (open/high/low/close/VWAP/volume/count) from the shard tables; progress on stderr\n" +
  "bulwark analytics backfill --from <offset|ISO time|time:<epoch ms>|earliest>\n" +
  "  replays analytics-trades from a consumer-group reset into a fresh raw trades table, then swaps it in\n" +
  "both take [--config <file>] [--profile embedded|distributed]";

const command: CliCommand = {
  name: "analytics",
  summary: "analytics batch jobs: the end-of-day report, and a backfill of the raw trades table from the log",
  usage: USAGE,
  async run(args, ctx) {
    const parsed = parseCliArgs(args, {
      config: { type: "string" },
      profile: { type: "string" },
      date: { type: "string" },
      format: { type: "string" },
      out: { type: "string" },
      window: { type: "string" },
      from: { type: "string" },
    });
    const [job, ...rest] = parsed.positionals;
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    if (job === "report") return report(parsed.values, ctx);
    if (job === "backfill") return runBackfill(parsed.values, ctx);
    throw new UsageError(
      job ? `unknown job "${job}" (known: report, backfill)` : "name a job: report or backfill",
    );
  },
};

type Values = Partial<Record<"config" | "profile" | "date" | "format" | "out" | "window" | "from", string>>;

async function appConfig(values: Values, ctx: CliContext) {
  const { loadAppConfig } = await import("../../app/index.ts");
  return loadAppConfig({
    env: ctx.env,
    ...(values.config ? { file: values.config } : {}),
    ...(values.profile ? { overrides: { profile: values.profile } } : {}),
  });
}

async function report(values: Values, ctx: CliContext): Promise<number> {
  const { dayRange, dailyReport, reportCsv } = await import("../../cases/analytics/batch/index.ts");
  if (!values.date || !dayRange(values.date)) throw new UsageError("--date must be a UTC day, YYYY-MM-DD");
  const format = values.format ?? "json";
  if (format !== "json" && format !== "csv") throw new UsageError("--format must be json or csv");
  if (values.from !== undefined) throw new UsageError("--from belongs to backfill");
  const config = await appConfig(values, ctx);
  const windowMs = values.window === undefined ? config.analytics.windows.sizeMs : Number(values.window);
  if (!Number.isInteger(windowMs) || windowMs < 1)
    throw new UsageError("--window must be a positive integer (ms)");
  const { storeConfigFor } = await import("../../app/index.ts");
  const { openStore } = await import("../../platform/storage/index.ts");
  const { openShardedStore } = await import("../../cases/analytics/store/index.ts");
  const shards = await openShardedStore({
    config: config.analytics.shards,
    open: (name) => openStore(storeConfigFor(config, name)),
  });
  try {
    const started = performance.now();
    const result = await dailyReport({
      shards,
      date: values.date,
      windowMs,
      onProgress: (done, total, symbols) =>
        ctx.stderr.write(`report: shard ${done}/${total} done (${symbols} symbols)\n`),
    });
    const text = format === "csv" ? reportCsv(result) : `${JSON.stringify(result, null, 2)}\n`;
    if (values.out) {
      const file = createWriteStream(values.out);
      file.end(text);
      await once(file, "finish");
    } else if (!ctx.stdout.write(text)) {
      await once(ctx.stdout, "drain");
    }
    ctx.stderr.write(
      `report: ${result.symbols.length} symbols for ${values.date} in ${Math.round(performance.now() - started)} ms` +
        `${values.out ? ` → ${values.out}` : ""}\n`,
    );
    return 0;
  } finally {
    for (const s of shards.shards) await s.close();
  }
}

async function runBackfill(values: Values, ctx: CliContext): Promise<number> {
  const { backfill, parseFrom, RAW_STORE, RawTrades } = await import("../../cases/analytics/batch/index.ts");
  const from = values.from === undefined ? undefined : parseFrom(values.from);
  if (!from)
    throw new UsageError("--from must be a log offset, an ISO 8601 time, time:<epoch ms> or earliest");
  for (const flag of ["date", "format", "out", "window"] as const) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} belongs to report`);
  }
  const config = await appConfig(values, ctx);
  const { createRuntime } = await import("../../app/index.ts");
  const { declareAnalyticsTopics } = await import("../../cases/analytics/system.ts");
  const { createLogger } = await import("../../platform/observability/index.ts");
  const rt = await createRuntime(config, createLogger({ level: "warn" }));
  try {
    await declareAnalyticsTopics(rt.bus, config.analytics);
    const raw = await RawTrades.open(await rt.openAuxStore(RAW_STORE));
    const result = await backfill({
      bus: rt.bus,
      raw,
      from,
      logger: rt.logger,
      signal: ctx.signal,
      progressEveryMs: 500,
      onProgress: (p) => ctx.stderr.write(`backfill: ${p.loaded} trades loaded, ${p.lag} messages to go\n`),
    });
    ctx.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } finally {
    await rt.close();
  }
}

export default command;

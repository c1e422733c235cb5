import { readFile, writeFile } from "node:fs/promises";
import { basename, extname } from "node:path";
import {
  builtinFunctions,
  createFaultProxyApi,
  FaultProxyClient,
  FaultProxyServer,
  faultModeEnabled,
  type Journal,
  loadExperiment,
  runExperiment,
} from "../../platform/chaos/index.ts";
import {
  aborted,
  assertLoopbackHost,
  DEFAULT_STATE_FILE,
  SupervisorClient,
  withProcessSignals,
} from "../../platform/supervisor/index.ts";
import { type CliCommand, type CliContext, parseCliArgs, UsageError } from "../command.ts";

const USAGE = [
  "bulwark chaos run <experiment.yaml|json> [--journal <path>] [--proxy-url <url>] [--state-file <path>] [--enable]",
  "bulwark chaos proxy [--port 8474] [--host 127.0.0.1] [--populate <proxies.json>] [--enable]",
  "  Fault mode must be on: --enable or BULWARK_CHAOS_ENABLED=1. Tokens come from BULWARK_ADMIN_TOKEN.",
].join("\n");

const command: CliCommand = {
  name: "chaos",
  summary: "run a chaos experiment, or the TCP fault proxy (Toxiproxy API)",
  usage: USAGE,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub === "run") return runCommand(rest, ctx);
    if (sub === "proxy") return proxyCommand(rest, ctx);
    throw new UsageError(sub ? `unknown subcommand "${sub}"` : "a subcommand is required");
  },
};

export default command;

async function runCommand(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCliArgs(args, {
    journal: { type: "string" },
    "proxy-url": { type: "string" },
    "state-file": { type: "string" },
    enable: { type: "boolean" },
  });
  const file = positionals[0];
  if (!file) throw new UsageError("the experiment file is required");
  if (!faultModeEnabled(values.enable === true, ctx.env)) {
    throw new UsageError("fault mode is off: pass --enable or set BULWARK_CHAOS_ENABLED=1");
  }
  const experiment = await loadExperiment(file);
  const token = ctx.env.BULWARK_ADMIN_TOKEN;
  const proxyUrl = values["proxy-url"] ?? ctx.env.BULWARK_CHAOS_PROXY_URL ?? "http://127.0.0.1:8474";
  const stateFile = values["state-file"] ?? DEFAULT_STATE_FILE;
  const functions = builtinFunctions({
    proxy: new FaultProxyClient({ url: proxyUrl, ...(token ? { token } : {}) }),
    supervisor: () => SupervisorClient.fromStateFile(stateFile),
    ...(token ? { adminToken: token } : {}),
  });
  ctx.stdout.write(`experiment: ${experiment.title}\n`);
  const journal = await withProcessSignals(ctx.signal, (signal) =>
    runExperiment(experiment, {
      functions,
      signal,
      env: ctx.env,
      onActivity(phase, run) {
        const met =
          run.tolerance_met === undefined
            ? ""
            : run.tolerance_met
              ? " (tolerance met)"
              : " (tolerance NOT met)";
        const why = run.exception ? `: ${run.exception}` : "";
        ctx.stdout.write(
          `  [${phase}] ${run.activity.type} ${run.activity.name}: ${run.status}${met}${why}\n`,
        );
      },
    }),
  );
  const journalPath = values.journal ?? `${basename(file, extname(file))}.journal.json`;
  await writeFile(journalPath, `${JSON.stringify(journal, null, 2)}\n`);
  ctx.stdout.write(`${summary(journal)}\njournal: ${journalPath}\n`);
  return journal.status === "completed" && !journal.deviated ? 0 : 1;
}

function summary(journal: Journal): string {
  const verdict = journal.deviated ? "deviated: a weakness may have been found" : journal.status;
  const rollbacks = journal.rollbacks.filter((r) => r.status === "succeeded").length;
  return `status: ${verdict} in ${journal.duration.toFixed(1)} s; rollbacks ${rollbacks}/${journal.rollbacks.length} succeeded`;
}

async function proxyCommand(args: string[], ctx: CliContext): Promise<number> {
  const { values } = parseCliArgs(args, {
    port: { type: "string" },
    host: { type: "string" },
    populate: { type: "string" },
    enable: { type: "boolean" },
  });
  const enabled = faultModeEnabled(values.enable === true, ctx.env);
  if (!enabled) throw new UsageError("fault mode is off: pass --enable or set BULWARK_CHAOS_ENABLED=1");
  const token = ctx.env.BULWARK_ADMIN_TOKEN;
  if (!token || token.length < 16)
    throw new UsageError("set BULWARK_ADMIN_TOKEN (16+ characters) for the proxy API");
  const host = values.host ?? "127.0.0.1";
  assertLoopbackHost(host);
  const port = Number(values.port ?? 8474);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError("--port must be 0..65535");

  const server = new FaultProxyServer();
  if (values.populate) {
    await server.populate(JSON.parse(await readFile(values.populate, "utf8")));
  }
  const api = createFaultProxyApi({ server, enabled, token });
  const url = await api.listen({ host, port });
  ctx.stdout.write(`fault proxy API (Toxiproxy 2.x shape) on ${url}; Ctrl-C removes every fault and stops\n`);
  for (const proxy of Object.values(server.listProxies())) {
    ctx.stdout.write(`  ${proxy.name}: ${proxy.listen} -> ${proxy.upstream}\n`);
  }
  await withProcessSignals(ctx.signal, aborted);
  await server.reset();
  await api.close();
  await server.close();
  ctx.stdout.write("fault proxy stopped; every fault removed\n");
  return 0;
}

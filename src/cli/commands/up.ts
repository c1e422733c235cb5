import { randomBytes } from "node:crypto";
import { faultModeEnabled } from "../../platform/chaos/index.ts";
import { createLogger } from "../../platform/observability/index.ts";
import {
  aborted,
  createControlApi,
  DEFAULT_STATE_FILE,
  type ProcessSpec,
  readProcessSpecs,
  removeStateFile,
  Supervisor,
  withProcessSignals,
  writeStateFile,
} from "../../platform/supervisor/index.ts";
import { type CliCommand, parseCliArgs, UsageError } from "../command.ts";

/** Where `bulwark up` gets its process list when no --spec is given; the application wires the real one. */
export type ProcessSpecProvider = () => ProcessSpec[] | Promise<ProcessSpec[]>;

/**
 * `bulwark up`: runs every service as its own supervised process, with a token-protected control API on
 * loopback whose address and token go to the state file (0600) for `bulwark status` and experiments.
 */
export function upCommand(provider: ProcessSpecProvider): CliCommand {
  return {
    name: "up",
    summary: "run every service as its own process under the supervisor",
    usage:
      "bulwark up [--spec <processes.json>] [--state-file data/supervisor.json] [--control-port <n>] [--enable-faults] [--seed <n>]",
    async run(args, ctx) {
      const { values } = parse(args);
      const specs = values.spec ? await readProcessSpecs(values.spec) : await provider();
      if (specs.length === 0) throw new UsageError("no processes to supervise: pass --spec <processes.json>");
      const stateFile = values["state-file"] ?? DEFAULT_STATE_FILE;
      const port = Number(values["control-port"] ?? 0);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UsageError("--control-port must be 0..65535");
      const seed = values.seed === undefined ? undefined : Number(values.seed);
      const token = ctx.env.BULWARK_ADMIN_TOKEN || randomBytes(24).toString("base64url");
      const faultsEnabled = faultModeEnabled(values["enable-faults"] === true, ctx.env);
      const logger = createLogger({ base: { component: "supervisor" }, destination: ctx.stdout });

      const supervisor = new Supervisor({
        processes: specs,
        logger,
        ...(seed === undefined ? {} : { seed }),
      });
      supervisor.on("output", ({ name, line }) => ctx.stdout.write(`[${name}] ${line}\n`));
      supervisor.on("state", ({ name, from, to }) =>
        logger.info({ process: name, from, to }, "process state"),
      );
      const api = createControlApi({ supervisor, token, faultsEnabled });
      const url = await api.listen({ host: "127.0.0.1", port });
      await writeStateFile(stateFile, { url, token, pid: process.pid, startedAt: new Date().toISOString() });
      supervisor.start();
      ctx.stdout.write(
        `supervising ${specs.length} processes; control API ${url} (token in ${stateFile}); ` +
          `process faults ${faultsEnabled ? "enabled" : "disabled"}. Ctrl-C stops everything.\n`,
      );
      await withProcessSignals(ctx.signal, aborted);
      ctx.stdout.write("stopping every process...\n");
      await supervisor.stop();
      await api.close();
      await removeStateFile(stateFile);
      return 0;
    },
  };
}

function parse(args: string[]) {
  return parseCliArgs(args, {
    spec: { type: "string" },
    "state-file": { type: "string" },
    "control-port": { type: "string" },
    "enable-faults": { type: "boolean" },
    seed: { type: "string" },
  });
}

/** Until the application passes its service list, `bulwark up` needs --spec. */
// Lazy: loading the app (and its config) only when `bulwark up` runs without --spec.
export default upCommand(async () => {
  const { loadAppConfig, processSpecs } = await import("../../app/index.ts");
  return processSpecs(loadAppConfig({ env: process.env }));
});

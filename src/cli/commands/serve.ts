import { isRole, loadAppConfig, ROLES, startSystem } from "../../app/index.ts";
import { stopOnSignals } from "../../platform/http/index.ts";
import { type CliCommand, parseCliArgs, UsageError } from "../command.ts";

const command: CliCommand = {
  name: "serve",
  summary: "run some of the system's services in this process (one per process under a supervisor)",
  usage: `bulwark serve <role>... [--config <file>] [--profile embedded|distributed]\nroles: ${ROLES.join(", ")}`,
  async run(args, ctx) {
    const parsed = parseCliArgs(args, { config: { type: "string" }, profile: { type: "string" } });
    const roles = parsed.positionals;
    if (roles.length === 0) throw new UsageError("name at least one role");
    const unknown = roles.find((r) => !isRole(r));
    if (unknown) throw new UsageError(`unknown role "${unknown}"`);
    const config = loadAppConfig({
      env: ctx.env,
      ...(parsed.values.config ? { file: parsed.values.config } : {}),
      ...(parsed.values.profile ? { overrides: { profile: parsed.values.profile } } : {}),
    });
    const system = await startSystem(config, { roles: roles.filter(isRole) });
    // Before the ready line: whoever reads it may signal at once, from another core.
    stopOnSignals(() => system.stop(), system.runtime.logger);
    ctx.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid, urls: system.urls })}\n`);
    await new Promise<void>(() => {});
    return 0;
  },
};

export default command;

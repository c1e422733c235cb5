import { AppConfigSchema } from "../../app/config.ts";
import { loadAppConfig, redactConfig } from "../../app/index.ts";
import { envVariables } from "../../platform/config/index.ts";
import { type CliCommand, parseCliArgs, UsageError } from "../command.ts";

const command: CliCommand = {
  name: "config",
  summary: "validate and print the effective configuration (secrets redacted), or list its variables",
  usage: "bulwark config [--config <file>]\nbulwark config env   (every BULWARK_* variable it reads)",
  async run(args, ctx) {
    const parsed = parseCliArgs(args, { config: { type: "string" } });
    if (parsed.positionals[0] === "env") {
      for (const [name, path] of envVariables(AppConfigSchema))
        ctx.stdout.write(`${name.padEnd(40)} ${path.join(".")}\n`);
      return 0;
    }
    if (parsed.positionals.length > 0) throw new UsageError(`unknown argument ${parsed.positionals[0]}`);
    const file = parsed.values.config;
    const config = loadAppConfig({ env: ctx.env, ...(file ? { file } : {}) });
    ctx.stdout.write(`${JSON.stringify(redactConfig(config), null, 2)}\n`);
    return 0;
  },
};

export default command;

import { randomBytes } from "node:crypto";
import { type AppConfig, loadAppConfig, startSystem } from "../../app/index.ts";
import { stopOnSignals } from "../../platform/http/index.ts";
import { type CliCommand, parseCliArgs, UsageError } from "../command.ts";

const command: CliCommand = {
  name: "start",
  summary: "run the whole system in this process (embedded profile by default)",
  usage: "bulwark start [--config <file>] [--profile embedded|distributed] [--port <n>] [--no-admin]",
  async run(args, ctx) {
    const { values } = parse(args);
    const overrides: Record<string, unknown> = {};
    if (values.profile) overrides.profile = values.profile;
    if (values.port !== undefined) overrides.http = { port: portArg(values.port) };
    // The demo enables admin routes unless told not to: they stay on loopback and behind a token.
    const adminExplicit = ctx.env.BULWARK_ADMIN_ENABLED !== undefined;
    let generatedToken: string | undefined;
    if (values["no-admin"]) overrides.admin = { enabled: false };
    else if (!adminExplicit) {
      if (!ctx.env.BULWARK_ADMIN_TOKEN) generatedToken = randomBytes(24).toString("base64url");
      overrides.admin = { enabled: true, token: ctx.env.BULWARK_ADMIN_TOKEN || generatedToken };
    }
    const config: AppConfig = loadAppConfig({
      env: ctx.env,
      ...(values.config ? { file: values.config } : {}),
      overrides,
    });
    const system = await startSystem(config);
    const { logger } = system.runtime;
    // Before the banner: whoever reads it may signal at once, from another core.
    stopOnSignals(() => system.stop(), logger);
    const lines = [
      `Bulwark is up (profile: ${config.profile})`,
      ...Object.entries(system.urls).map(([name, url]) => `  ${name.padEnd(20)} ${url}`),
      `  ${"probes".padEnd(20)} ${system.urls.console}/health/ready  ${system.urls.console}/metrics`,
    ];
    if (config.admin.enabled) {
      lines.push(
        generatedToken
          ? `  ${"admin".padEnd(20)} enabled; generated token (set BULWARK_ADMIN_TOKEN to choose one): ${generatedToken}`
          : `  ${"admin".padEnd(20)} enabled with the token from BULWARK_ADMIN_TOKEN`,
      );
    }
    lines.push("Press Ctrl-C to stop.");
    ctx.stdout.write(`${lines.join("\n")}\n`);
    logger.info({ urls: system.urls, profile: config.profile }, "system started");
    await new Promise<void>(() => {});
    return 0;
  },
};

function parse(args: string[]) {
  const parsed = parseCliArgs(args, {
    config: { type: "string" },
    profile: { type: "string" },
    port: { type: "string" },
    "no-admin": { type: "boolean" },
  });
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument ${parsed.positionals[0]}`);
  return parsed;
}

function portArg(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be 0..65535, got ${value}`);
  return port;
}

export default command;

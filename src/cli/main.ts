import { readdirSync } from "node:fs";
import { ConfigError } from "../platform/config/index.ts";
import { type CliCommand, type CliContext, UsageError } from "./command.ts";

/** Every subcommand is a file in ./commands exporting a CliCommand as default. */
async function loadCommands(): Promise<Map<string, CliCommand>> {
  const dir = new URL("./commands/", import.meta.url);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".ts"))
    .sort();
  const commands = new Map<string, CliCommand>();
  for (const file of files) {
    const mod = (await import(new URL(file, dir).href)) as { default?: CliCommand };
    if (mod.default?.name) commands.set(mod.default.name, mod.default);
  }
  return commands;
}

function help(commands: Map<string, CliCommand>): string {
  const rows = [...commands.values()].map((c) => `  ${c.name.padEnd(10)} ${c.summary}`);
  return `usage: bulwark <command> [options]\n\ncommands:\n${rows.join("\n")}\n  help       show this, or a command's usage: bulwark help <command>\n`;
}

export async function main(argv: string[], ctx: CliContext): Promise<number> {
  const commands = await loadCommands();
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    const target = rest[0] && commands.get(rest[0]);
    ctx.stdout.write(target ? `${target.usage}\n` : help(commands));
    return 0;
  }
  const command = commands.get(name);
  if (!command) {
    ctx.stderr.write(`bulwark: unknown command "${name}"\n\n${help(commands)}`);
    return 2;
  }
  try {
    return await command.run(rest, ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      ctx.stderr.write(`bulwark ${name}: ${err.message}\nusage: ${command.usage}\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      ctx.stderr.write(`bulwark ${name}: ${err.message}\n`);
      return 78; // EX_CONFIG
    }
    const e = err as NodeJS.ErrnoException;
    // The reader went away (`bulwark feed | head`): that is the end of the output, not a failure.
    if (e.code === "EPIPE") return 0;
    if (e.code === "EADDRINUSE") {
      ctx.stderr.write(
        `bulwark ${name}: ${e.message}: another process holds the port; set BULWARK_HTTP_PORT or --port\n`,
      );
      return 1;
    }
    ctx.stderr.write(`bulwark ${name}: ${e.message}\n`);
    if (ctx.env.BULWARK_DEBUG) ctx.stderr.write(`${e.stack}\n`);
    return 1;
  }
}

/** Entry point for bin/bulwark.js: runs one command with the real process streams and signals. */
export async function runCli(argv = process.argv.slice(2)): Promise<void> {
  const controller = new AbortController();
  process.exitCode = await main(argv, {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    signal: controller.signal,
  });
}

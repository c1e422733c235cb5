import type { Writable } from "node:stream";
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";

/** What every `bulwark <name>` subcommand gets besides its arguments. */
export interface CliContext {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM; long-running commands stop cleanly when it fires. */
  signal: AbortSignal;
}

/** A `bulwark` subcommand. `run` resolves to the process exit code. */
export interface CliCommand {
  name: string;
  summary: string;
  /** One or more usage lines, printed by `bulwark help <name>` and on bad arguments. */
  usage: string;
  run(args: string[], ctx: CliContext): Promise<number>;
}

/** Thrown for bad command-line input: the CLI prints the message and the usage, and exits 2. */
export class UsageError extends Error {
  readonly code = "BWK_ERR_CLI_USAGE";
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** `parseArgs` in strict mode, with bad input turned into a UsageError (usage printed, exit 2). */
export function parseCliArgs<const O extends ParseArgsOptionsConfig>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

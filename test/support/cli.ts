import { Writable } from "node:stream";
import { main } from "../../src/cli/main.ts";

/** Runs `bulwark <args>` in this process, capturing what it writes; `code` is its exit status. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, cb) {
        append(chunk.toString());
        cb();
      },
    });
  const code = await main(args, {
    stdout: sink((s) => {
      out += s;
    }),
    stderr: sink((s) => {
      err += s;
    }),
    env,
    signal: new AbortController().signal,
  });
  return { code, out, err };
}

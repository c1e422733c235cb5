import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { SupervisorError } from "./errors.ts";

/** Where a running supervisor tells `bulwark status` and experiments how to reach it. */
export interface SupervisorStateFile {
  url: string;
  token: string;
  pid: number;
  startedAt: string;
}

export const DEFAULT_STATE_FILE = "data/supervisor.json";

/** Written 0600: the file holds the control token. */
export async function writeStateFile(path: string, state: SupervisorStateFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
}

export async function readStateFile(path: string): Promise<SupervisorStateFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new SupervisorError(
      "BWK_ERR_SUPERVISOR_UNREACHABLE",
      `no supervisor state at ${path}: is \`bulwark up\` running?`,
      { cause },
    );
  }
  return JSON.parse(text) as SupervisorStateFile;
}

export async function removeStateFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

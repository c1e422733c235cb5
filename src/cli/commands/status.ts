import { DEFAULT_STATE_FILE, type ProcessStatus, SupervisorClient } from "../../platform/supervisor/index.ts";
import { type CliCommand, parseCliArgs } from "../command.ts";

const command: CliCommand = {
  name: "status",
  summary: "show the processes of a running `bulwark up`",
  usage: "bulwark status [--state-file data/supervisor.json] [--json]",
  async run(args, ctx) {
    const { values } = parseCliArgs(args, { "state-file": { type: "string" }, json: { type: "boolean" } });
    const client = await SupervisorClient.fromStateFile(values["state-file"] ?? DEFAULT_STATE_FILE);
    const { pid, processes } = await client.status();
    if (values.json) {
      ctx.stdout.write(`${JSON.stringify({ supervisor: { pid, url: client.url }, processes }, null, 2)}\n`);
    } else {
      ctx.stdout.write(`supervisor pid ${pid} at ${client.url}\n${formatTable(processes)}\n`);
    }
    return 0;
  },
};

export default command;

export function formatTable(processes: ProcessStatus[]): string {
  const rows = [
    ["NAME", "SERVICE", "STATE", "READY", "PID", "RESTARTS", "UPTIME", "LAST EXIT"],
    ...processes.map((p) => [
      p.name,
      p.service,
      p.state,
      p.ready ? "yes" : "no",
      p.pid === undefined ? "-" : String(p.pid),
      String(p.restarts),
      p.uptimeMs === undefined ? "-" : formatDuration(p.uptimeMs),
      p.lastExit ? (p.lastExit.signal ?? `code ${p.lastExit.code}`) : "-",
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

import { CASES, caseNamed, loadAppConfig } from "../../app/index.ts";
import { type CliCommand, parseCliArgs, UsageError } from "../command.ts";

const checkable = () => CASES.filter((c) => c.check).map((c) => c.name);

const command: CliCommand = {
  name: "check",
  summary: "verify a case's invariants against its stores; prints JSON, exits 1 on any violation",
  usage: `bulwark check <${checkable().join("|")}> [--config <file>] [--profile embedded|distributed] [--grace-ms <n>]`,
  async run(args, ctx) {
    const parsed = parseCliArgs(args, {
      config: { type: "string" },
      profile: { type: "string" },
      "grace-ms": { type: "string" },
    });
    const [target] = parsed.positionals;
    const kase = target ? caseNamed(target) : undefined;
    if (!kase?.check)
      throw new UsageError(
        target ? `unknown case "${target}" (known: ${checkable().join(", ")})` : "name a case",
      );
    const graceMs = parsed.values["grace-ms"] === undefined ? undefined : Number(parsed.values["grace-ms"]);
    if (graceMs !== undefined && !(graceMs >= 0))
      throw new UsageError("--grace-ms must be a number of milliseconds");
    const config = loadAppConfig({
      env: ctx.env,
      ...(parsed.values.config ? { file: parsed.values.config } : {}),
      ...(parsed.values.profile ? { overrides: { profile: parsed.values.profile } } : {}),
    });
    const result = await kase.check(config, graceMs === undefined ? {} : { graceMs });
    ctx.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return result.ok ? 0 : 1;
  },
};

export default command;

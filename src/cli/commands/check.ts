import { loadAppConfig, storeConfigFor } from "../../app/index.ts";
import { checkCommerce } from "../../cases/commerce/checker.ts";
import { openStore } from "../../platform/storage/index.ts";
import { type CliCommand, parseCliArgs, UsageError } from "../command.ts";

const command: CliCommand = {
  name: "check",
  summary: "verify a case's invariants against its stores; prints JSON, exits 1 on any violation",
  usage: "bulwark check commerce [--config <file>] [--profile embedded|distributed] [--grace-ms <n>]",
  async run(args, ctx) {
    const parsed = parseCliArgs(args, {
      config: { type: "string" },
      profile: { type: "string" },
      "grace-ms": { type: "string" },
    });
    const [target] = parsed.positionals;
    if (target !== "commerce")
      throw new UsageError(target ? `unknown case "${target}" (known: commerce)` : "name a case");
    const graceMs = parsed.values["grace-ms"] === undefined ? undefined : Number(parsed.values["grace-ms"]);
    if (graceMs !== undefined && !(graceMs >= 0))
      throw new UsageError("--grace-ms must be a number of milliseconds");
    const config = loadAppConfig({
      env: ctx.env,
      ...(parsed.values.config ? { file: parsed.values.config } : {}),
      ...(parsed.values.profile ? { overrides: { profile: parsed.values.profile } } : {}),
    });
    const store = await openStore(storeConfigFor(config));
    const gatewayStore = await openStore(storeConfigFor(config, "gateway"));
    try {
      const result = await checkCommerce(store, gatewayStore, graceMs === undefined ? {} : { graceMs });
      ctx.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return result.ok ? 0 : 1;
    } finally {
      await store.close();
      await gatewayStore.close();
    }
  },
};

export default command;

import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { builtinFunctions, loadExperiment } from "../../../src/platform/chaos/index.ts";

const dir = new URL("../../../experiments/", import.meta.url);
const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f) && f !== "proxies.json");
const known = new Set(Object.keys(builtinFunctions({})));

describe("experiments/", () => {
  it("holds at least one experiment per case study", () => {
    for (const study of ["commerce", "analytics", "banking"]) {
      expect(files.some((f) => f.startsWith(study))).toBe(true);
    }
  });

  it.each(files)("%s parses and calls only known functions", async (file) => {
    const experiment = await loadExperiment(new URL(file, dir).pathname);
    const activities = [
      ...(experiment["steady-state-hypothesis"]?.probes ?? []),
      ...experiment.method,
      ...(experiment.rollbacks ?? []),
    ];
    for (const { provider } of activities) {
      if (provider.type === "bulwark" || provider.type === "python") {
        const name = provider.module ? `${provider.module}.${provider.func}` : provider.func;
        expect(known, `${file}: ${name}`).toContain(name);
      }
    }
    expect(experiment.rollbacks, `${file} declares its rollbacks`).toBeDefined();
  });
});

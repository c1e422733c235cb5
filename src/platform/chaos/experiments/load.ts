import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { ChaosError } from "../errors.ts";
import { schemaErrors } from "../validate.ts";
import { ExperimentSchema } from "./schema.ts";
import type { Experiment } from "./types.ts";

function invalid(
  message: string,
  errors: { field: string; message: string }[] = [],
  cause?: unknown,
): ChaosError {
  return new ChaosError("BWK_ERR_CHAOS_EXPERIMENT_INVALID", 400, message, { errors, cause });
}

/** Parses an experiment from JSON or YAML text (YAML is a superset, so one parser takes both) and checks it. */
export function parseExperiment(text: string, source = "experiment"): Experiment {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (cause) {
    throw invalid(`${source}: not valid YAML or JSON`, [], cause);
  }
  const errors = schemaErrors(ExperimentSchema, document);
  if (errors.length > 0) {
    const detail = errors.map((e) => `${e.field}: ${e.message}`).join("; ");
    throw invalid(`${source}: invalid experiment (${detail})`, errors);
  }
  const experiment = document as Experiment;
  for (const probe of experiment["steady-state-hypothesis"]?.probes ?? []) {
    if (probe.tolerance === undefined) {
      throw invalid(`${source}: hypothesis probe ${probe.name} has no tolerance`, [
        { field: "steady-state-hypothesis.probes.tolerance", message: "required" },
      ]);
    }
  }
  return experiment;
}

export async function loadExperiment(path: string): Promise<Experiment> {
  return parseExperiment(await readFile(path, "utf8"), path);
}

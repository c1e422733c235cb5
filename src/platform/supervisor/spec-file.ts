import { readFile } from "node:fs/promises";
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { SupervisorError } from "./errors.ts";
import type { ProcessSpec } from "./types.ts";

export const ProcessSpecSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    service: Type.String({ minLength: 1 }),
    command: Type.String({ minLength: 1 }),
    args: Type.Optional(Type.Array(Type.String())),
    env: Type.Optional(Type.Record(Type.String(), Type.String())),
    cwd: Type.Optional(Type.String()),
    livenessUrl: Type.Optional(Type.String()),
    readinessUrl: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const SpecFileSchema = Type.Union([
  Type.Array(ProcessSpecSchema),
  Type.Object({ processes: Type.Array(ProcessSpecSchema) }),
]);

/** Reads a process list: a JSON array of specs, or `{processes: [...]}`. */
export async function readProcessSpecs(path: string): Promise<ProcessSpec[]> {
  let document: unknown;
  try {
    document = JSON.parse(await readFile(path, "utf8"));
  } catch (cause) {
    throw new SupervisorError("BWK_ERR_SUPERVISOR_BAD_SPEC", `cannot read process specs from ${path}`, {
      cause,
    });
  }
  if (!Value.Check(SpecFileSchema, document)) {
    const first = [...Value.Errors(SpecFileSchema, document)][0];
    throw new SupervisorError(
      "BWK_ERR_SUPERVISOR_BAD_SPEC",
      `${path}: invalid process spec at ${first?.path || "/"}: ${first?.message ?? "unknown"}`,
    );
  }
  const specs: Static<typeof SpecFileSchema> = document;
  return Array.isArray(specs) ? specs : specs.processes;
}

import type { Static, TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { ChaosValidationError, type FieldError } from "./errors.ts";

/** TypeBox error paths are JSON pointers; problem bodies name fields the way people write them: a.b[0]. */
export function fieldName(pointer: string, prefix = ""): string {
  const parts = pointer.split("/").filter(Boolean);
  const dotted = parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
  if (!prefix) return dotted || "(body)";
  return dotted ? `${prefix}${dotted.startsWith("[") ? "" : "."}${dotted}` : prefix;
}

export function schemaErrors(schema: TSchema, value: unknown, prefix = ""): FieldError[] {
  const errors: FieldError[] = [];
  for (const error of Value.Errors(schema, value)) {
    const field = fieldName(error.path, prefix);
    if (!errors.some((e) => e.field === field)) errors.push({ field, message: error.message });
  }
  return errors;
}

/** Applies the schema's defaults to a copy of `value` and checks it; throws a 400-mapped error naming fields. */
export function validate<T extends TSchema>(schema: T, value: unknown, what: string, prefix = ""): Static<T> {
  const withDefaults = Value.Default(schema, structuredClone(value ?? {}));
  const errors = schemaErrors(schema, withDefaults, prefix);
  if (errors.length > 0) throw new ChaosValidationError(`invalid ${what}`, errors);
  return withDefaults as Static<T>;
}

import type { Static, TSchema } from "@sinclair/typebox";
import { type TypeCheck, TypeCompiler } from "@sinclair/typebox/compiler";
import { InvalidEventError } from "./errors.ts";
import type { EventInput } from "./types.ts";

/** One event type at one version, with its schema; `create` builds a typed EventInput. */
export interface EventDefinition<S extends TSchema = TSchema> {
  readonly type: string;
  readonly version: number;
  readonly schema: S;
  create(payload: Static<S>): EventInput<Static<S>>;
}

export function defineEvent<S extends TSchema>(type: string, version: number, schema: S): EventDefinition<S> {
  return { type, version, schema, create: (payload) => ({ type, version, payload }) };
}

/** Schemas keyed by (type, version), compiled once; checked on publish and again on consume. */
export class EventRegistry {
  readonly #checks = new Map<string, TypeCheck<TSchema>>();

  register(...definitions: EventDefinition[]): this {
    for (const d of definitions) this.#checks.set(keyOf(d.type, d.version), TypeCompiler.Compile(d.schema));
    return this;
  }

  has(type: string, version: number): boolean {
    return this.#checks.has(keyOf(type, version));
  }

  /** The reason the payload is invalid, or undefined when it is valid. */
  problem(type: string, version: number, payload: unknown): string | undefined {
    const check = this.#checks.get(keyOf(type, version));
    if (!check) return `no schema registered for ${type}@v${version}`;
    if (check.Check(payload)) return undefined;
    const first = check.Errors(payload).First();
    return first ? `${first.path || "/"}: ${first.message}` : "does not match schema";
  }

  assertValid(event: EventInput): void {
    const reason = this.problem(event.type, event.version, event.payload);
    if (reason) throw new InvalidEventError(event.type, event.version, reason);
  }
}

function keyOf(type: string, version: number): string {
  return `${type}@${version}`;
}

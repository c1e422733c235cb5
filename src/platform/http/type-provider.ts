import type { Static, TSchema } from "@sinclair/typebox";
import type { FastifyTypeProvider } from "fastify";

/** Lets route handlers see request types derived from their TypeBox schemas. */
export interface TypeBoxTypeProvider extends FastifyTypeProvider {
  validator: this["schema"] extends TSchema ? Static<this["schema"]> : unknown;
  serializer: this["schema"] extends TSchema ? Static<this["schema"]> : unknown;
}

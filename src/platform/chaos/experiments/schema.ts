import { Type } from "@sinclair/typebox";

const Seconds = Type.Number({ minimum: 0 });

const ProviderSchema = Type.Union([
  Type.Object({
    type: Type.Literal("http"),
    url: Type.String({ minLength: 1 }),
    method: Type.Optional(Type.String()),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    arguments: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    timeout: Type.Optional(Seconds),
    expected_status: Type.Optional(Type.Union([Type.Integer(), Type.Array(Type.Integer())])),
  }),
  Type.Object({
    type: Type.Literal("process"),
    path: Type.String({ minLength: 1 }),
    arguments: Type.Optional(
      Type.Union([Type.Array(Type.String()), Type.String(), Type.Record(Type.String(), Type.Unknown())]),
    ),
    timeout: Type.Optional(Seconds),
  }),
  Type.Object({
    type: Type.Union([Type.Literal("bulwark"), Type.Literal("python")]),
    module: Type.Optional(Type.String()),
    func: Type.String({ minLength: 1 }),
    arguments: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  }),
]);

const ActivitySchema = Type.Object({
  type: Type.Union([Type.Literal("action"), Type.Literal("probe")]),
  name: Type.String({ minLength: 1 }),
  provider: ProviderSchema,
  tolerance: Type.Optional(Type.Unknown()),
  pauses: Type.Optional(Type.Object({ before: Type.Optional(Seconds), after: Type.Optional(Seconds) })),
  background: Type.Optional(Type.Boolean()),
});

/** The experiment document, Chaos Toolkit's shape; unknown top-level keys (extensions, secrets) pass. */
export const ExperimentSchema = Type.Object({
  title: Type.String({ minLength: 1 }),
  description: Type.String(),
  tags: Type.Optional(Type.Array(Type.String())),
  configuration: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  "steady-state-hypothesis": Type.Optional(
    Type.Object({ title: Type.String(), probes: Type.Optional(Type.Array(ActivitySchema)) }),
  ),
  method: Type.Array(ActivitySchema, { minItems: 1 }),
  rollbacks: Type.Optional(Type.Array(ActivitySchema)),
  runtime: Type.Optional(Type.Object({ fail_fast: Type.Optional(Type.Boolean()) })),
});

import { Type } from "@sinclair/typebox";

const Name = Type.String({ minLength: 1, maxLength: 200, pattern: "^[A-Za-z0-9_.:-]+$" });
const Address = Type.String({ minLength: 3, maxLength: 300 });

export const ProxyCreateSchema = Type.Object(
  {
    name: Name,
    listen: Type.String({ ...Address, default: "127.0.0.1:0" }),
    upstream: Address,
    enabled: Type.Boolean({ default: true }),
  },
  { additionalProperties: false },
);

export const ProxyPatchSchema = Type.Object(
  {
    listen: Type.Optional(Address),
    upstream: Type.Optional(Address),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const StreamSchema = Type.Union([Type.Literal("upstream"), Type.Literal("downstream")]);

export const ToxicCreateSchema = Type.Object(
  {
    name: Type.Optional(Name),
    type: Type.String({ minLength: 1 }),
    stream: Type.Optional(StreamSchema),
    toxicity: Type.Number({ minimum: 0, maximum: 1, default: 1 }),
    attributes: Type.Record(Type.String(), Type.Unknown(), { default: {} }),
  },
  { additionalProperties: false },
);

export const ToxicPatchSchema = Type.Object(
  {
    toxicity: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    attributes: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);

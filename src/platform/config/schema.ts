import { type Static, type TProperties, Type } from "@sinclair/typebox";

const Url = (protocols: string[], fallback: string) =>
  Type.String({
    pattern: `^(${protocols.join("|")})://`,
    default: fallback,
    description: `a ${protocols[0]}:// URL`,
  });

/** A config section: every field has a default, and unknown keys are errors (they are usually typos). */
export const Section = <T extends TProperties>(properties: T) =>
  Type.Object(properties, { default: {}, additionalProperties: false });

/**
 * The whole Bulwark configuration. Sources, later ones winning: these defaults, then a JSON file
 * (bulwark.config.json or --config), then environment variables (BULWARK_<PATH>, e.g. BULWARK_HTTP_PORT,
 * plus DATABASE_URL, NATS_URL and REDIS_URL).
 */
export const PlatformConfigSchema = Type.Object(
  {
    profile: Type.Union([Type.Literal("embedded"), Type.Literal("distributed")], {
      default: "embedded",
      description:
        "embedded: SQLite + in-process log + in-memory cache; distributed: Postgres + NATS JetStream + Redis",
    }),
    dataDir: Type.String({
      minLength: 1,
      default: "./data",
      description: "where the embedded profile keeps its files",
    }),
    database: Section({
      url: Url(["postgres", "postgresql"], "postgres://postgres@127.0.0.1:5432/test"),
      poolSize: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
      schema: Type.Optional(Type.String({ pattern: "^[A-Za-z_][A-Za-z0-9_]{0,62}$" })),
    }),
    nats: Section({ url: Url(["nats", "tls"], "nats://127.0.0.1:4222") }),
    redis: Section({ url: Url(["redis", "rediss"], "redis://127.0.0.1:6379") }),
    http: Section({
      host: Type.String({ minLength: 1, default: "127.0.0.1" }),
      port: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
      bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024, default: 1024 * 1024 }),
    }),
    log: Section({
      level: Type.Union(
        ["fatal", "error", "warn", "info", "debug", "trace", "silent"].map((l) => Type.Literal(l)),
        { default: "info" },
      ),
      pretty: Type.Optional(
        Type.Boolean({ description: "human-readable logs; defaults to on when stdout is a TTY" }),
      ),
    }),
    tracing: Section({
      exporter: Type.Union([Type.Literal("none"), Type.Literal("otlp"), Type.Literal("memory")], {
        default: "none",
      }),
      otlpUrl: Type.String({ default: "http://127.0.0.1:4318/v1/traces" }),
    }),
    admin: Section({
      enabled: Type.Boolean({ default: false, description: "admin routes are off unless enabled" }),
      token: Type.Optional(Type.String({ minLength: 16, description: "bearer token for admin routes" })),
    }),
    auth: Section({
      serviceKeys: Type.Array(Type.String({ minLength: 16 }), {
        default: [],
        description: "API keys other services present in x-api-key; empty means service routes are open",
      }),
    }),
    shutdown: Section({
      readinessGraceMs: Type.Integer({
        minimum: 0,
        default: 1000,
        description: "after SIGTERM, how long readiness fails before the server stops accepting",
      }),
      drainTimeoutMs: Type.Integer({
        minimum: 0,
        default: 10_000,
        description: "bound on draining in-flight requests",
      }),
    }),
    chaos: Section({
      enabled: Type.Boolean({ default: false, description: "fault injection; off unless enabled" }),
    }),
  },
  { additionalProperties: false },
);

export type PlatformConfig = Static<typeof PlatformConfigSchema>;

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  envVariables,
  loadConfig,
  PlatformConfigSchema,
} from "../../../src/platform/config/index.ts";

const emptyDir = () => mkdtempSync(join(tmpdir(), "bulwark-config-"));

function problemsOf(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("gives the embedded profile with working defaults when nothing is set", () => {
    const config = loadConfig(PlatformConfigSchema, { env: {}, cwd: emptyDir() });
    expect(config.profile).toBe("embedded");
    expect(config.http).toEqual({ host: "127.0.0.1", port: 3000, bodyLimitBytes: 1024 * 1024 });
    expect(config.admin.enabled).toBe(false);
    expect(config.chaos.enabled).toBe(false);
    expect(config.database.url).toMatch(/^postgres:\/\//);
  });

  it("layers file over defaults and environment over file", () => {
    const cwd = emptyDir();
    writeFileSync(
      join(cwd, "bulwark.config.json"),
      JSON.stringify({
        profile: "distributed",
        http: { port: 4000, host: "0.0.0.0" },
        log: { level: "debug" },
      }),
    );
    const config = loadConfig(PlatformConfigSchema, {
      cwd,
      env: {
        BULWARK_HTTP_PORT: "5000",
        BULWARK_ADMIN_ENABLED: "true",
        BULWARK_AUTH_SERVICE_KEYS: "key-one-0123456789, key-two-0123456789",
        DATABASE_URL: "postgres://u@db:5432/prod",
        BULWARK_SHUTDOWN_DRAIN_TIMEOUT_MS: "2500",
      },
    });
    expect(config.profile).toBe("distributed");
    expect(config.http).toMatchObject({ port: 5000, host: "0.0.0.0" });
    expect(config.log.level).toBe("debug");
    expect(config.admin.enabled).toBe(true);
    expect(config.auth.serviceKeys).toEqual(["key-one-0123456789", "key-two-0123456789"]);
    expect(config.database.url).toBe("postgres://u@db:5432/prod");
    expect(config.shutdown.drainTimeoutMs).toBe(2500);
  });

  it("prefers BULWARK_DATABASE_URL over DATABASE_URL", () => {
    const config = loadConfig(PlatformConfigSchema, {
      cwd: emptyDir(),
      env: { DATABASE_URL: "postgres://generic/db", BULWARK_DATABASE_URL: "postgres://specific/db" },
    });
    expect(config.database.url).toBe("postgres://specific/db");
  });

  it("reports one clear message per bad field, naming where the value came from", () => {
    const cwd = emptyDir();
    const file = join(cwd, "custom.json");
    writeFileSync(file, JSON.stringify({ http: { prot: 1 }, log: { level: "loud" } }));
    const problems = problemsOf(() =>
      loadConfig(PlatformConfigSchema, {
        cwd,
        file,
        env: { BULWARK_HTTP_PORT: "eighty", BULWARK_PROFILE: "cloud", REDIS_URL: "http://x" },
      }),
    );
    const byPath = Object.fromEntries(problems.map((p) => [p.path, p]));
    expect(Object.keys(byPath).sort()).toEqual([
      "http.port",
      "http.prot",
      "log.level",
      "profile",
      "redis.url",
    ]);
    expect(byPath["http.port"]).toMatchObject({ source: "BULWARK_HTTP_PORT" });
    expect(byPath["http.port"]!.message).toContain('"eighty"');
    expect(byPath.profile!.message).toBe('must be one of "embedded", "distributed" (got "cloud")');
    expect(byPath["log.level"]).toMatchObject({ source: file });
    expect(byPath["http.prot"]!.message).toContain("unknown setting");
    expect(byPath["redis.url"]).toMatchObject({ source: "REDIS_URL" });
  });

  it("fails clearly on a missing explicit file and on malformed JSON", () => {
    const cwd = emptyDir();
    expect(
      problemsOf(() => loadConfig(PlatformConfigSchema, { cwd, file: "nope.json", env: {} }))[0]!.message,
    ).toMatch(/config file not found/);
    writeFileSync(join(cwd, "bulwark.config.json"), "{ not json");
    expect(problemsOf(() => loadConfig(PlatformConfigSchema, { cwd, env: {} }))[0]!.message).toMatch(
      /cannot read/,
    );
  });

  it("derives an environment variable for every scalar setting", () => {
    const names = envVariables(PlatformConfigSchema).map(([name]) => name);
    expect(names).toContain("BULWARK_HTTP_BODY_LIMIT_BYTES");
    expect(names).toContain("BULWARK_ADMIN_TOKEN");
    expect(names).toContain("BULWARK_PROFILE");
  });
});

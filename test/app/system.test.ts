import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  loadAppConfig,
  processSpecs,
  type RunningSystem,
  redactConfig,
  startSystem,
} from "../../src/app/index.ts";

const token = "admin-token-0123456789";
const running: RunningSystem[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

function config(env: Record<string, string>) {
  return loadAppConfig({
    cwd: mkdtempSync(join(tmpdir(), "bulwark-app-")),
    env: {
      BULWARK_DATA_DIR: mkdtempSync(join(tmpdir(), "bulwark-app-data-")),
      BULWARK_HTTP_PORT: "0",
      BULWARK_LOG_LEVEL: "silent",
      BULWARK_ADMIN_ENABLED: "true",
      BULWARK_ADMIN_TOKEN: token,
      BULWARK_COMMERCE_ENABLED: "false",
      BULWARK_ANALYTICS_ENABLED: "false",
      ...env,
    },
  });
}

describe("system composition", () => {
  it("in fault mode, a failure flag set through the admin API fails the matching route", async () => {
    const system = await startSystem(config({ BULWARK_CHAOS_ENABLED: "true" }));
    running.push(system);
    const base = system.urls.console!;
    expect((await fetch(`${base}/`)).status).toBe(200);
    const set = await fetch(`${base}/admin/chaos/flags/console-down`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ method: "GET", route: "/", fault: { kind: "error", status: 503 } }),
    });
    expect(set.status).toBeLessThan(300);
    expect((await fetch(`${base}/`)).status).toBe(503);
    await fetch(`${base}/admin/chaos/flags`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${token}` },
    });
    expect((await fetch(`${base}/`)).status).toBe(200);
  });

  it("without fault mode there is no flag hook and no flag API", async () => {
    const system = await startSystem(config({}));
    running.push(system);
    const res = await fetch(`${system.urls.console}/admin/chaos/flags`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(404);
  });

  it("redacts secrets when showing the configuration", () => {
    const shown = redactConfig(
      config({
        DATABASE_URL: "postgres://app:s3cret@db:5432/prod",
        BULWARK_AUTH_SERVICE_KEYS: "service-key-0123456789",
      }),
    );
    expect(shown.database.url).toBe("postgres://app:***@db:5432/prod");
    expect(shown.admin.token).toBe("[redacted]");
    expect(shown.auth.serviceKeys).toEqual(["[redacted]"]);
    expect(shown.nats.url).toBe("nats://127.0.0.1:4222");
  });

  it("lists one supervised process per service for bulwark up, probed on its health routes", () => {
    const specs = processSpecs(loadAppConfig({ env: {}, cwd: mkdtempSync(join(tmpdir(), "bulwark-app-")) }));
    expect(specs.map((s) => s.name)).toEqual([
      "console",
      "commerce-gateway",
      "commerce-inventory",
      "commerce-payment",
      "commerce-order",
      "banking-auth",
      "banking-accounts",
      "banking-history",
      "banking-mobile",
      "banking-gateway",
      "analytics-ingest",
      "analytics-processor",
      "analytics-query",
    ]);
    expect(specs.find((s) => s.name === "commerce-order")).toMatchObject({
      service: "order",
      args: [expect.stringMatching(/bin\/bulwark\.js$/), "serve", "commerce:order"],
      livenessUrl: "http://127.0.0.1:3001/health/live",
      readinessUrl: "http://127.0.0.1:3001/health/ready",
    });
  });
});

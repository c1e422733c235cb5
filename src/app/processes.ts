import { fileURLToPath } from "node:url";
import type { ProcessSpec } from "../platform/supervisor/index.ts";
import type { AppConfig } from "./config.ts";
import { ROLES, type Role } from "./system.ts";

const BIN = fileURLToPath(new URL("../../bin/bulwark.js", import.meta.url));

/** The port each role listens on, from the configuration. */
export function portOf(config: AppConfig, role: Role): number {
  if (role === "console") return config.http.port;
  const service = role.slice("commerce:".length) as keyof AppConfig["commerce"]["ports"];
  return config.commerce.ports[service];
}

/** `bulwark up`'s process list: one `bulwark serve <role>` process per service, probed on its health routes. */
export function processSpecs(config: AppConfig, env: Record<string, string> = {}): ProcessSpec[] {
  const roles = ROLES.filter((role) => role === "console" || config.commerce.enabled);
  return roles.map((role) => {
    const base = `http://${config.http.host}:${portOf(config, role)}`;
    return {
      name: role.replace(":", "-"),
      service: role.split(":").at(-1)!,
      command: process.execPath,
      args: [BIN, "serve", role],
      env,
      livenessUrl: `${base}/health/live`,
      readinessUrl: `${base}/health/ready`,
    };
  });
}

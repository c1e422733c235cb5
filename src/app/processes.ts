import { fileURLToPath } from "node:url";
import type { ProcessSpec } from "../platform/supervisor/index.ts";
import { CASES, caseNamed } from "./cases/index.ts";
import type { AppConfig } from "./config.ts";
import type { Role } from "./system.ts";

const BIN = fileURLToPath(new URL("../../bin/bulwark.js", import.meta.url));

/** The port each role listens on, from the configuration. */
export function portOf(config: AppConfig, role: Role): number {
  if (role === "console") return config.http.port;
  const [name = "", service = ""] = role.split(":");
  const kase = caseNamed(name);
  if (!kase?.services.includes(service)) throw new Error(`unknown role "${role}"`);
  return kase.port(config, service);
}

/** `bulwark up`'s process list: one `bulwark serve <role>` process per service, probed on its health routes. */
export function processSpecs(config: AppConfig, env: Record<string, string> = {}): ProcessSpec[] {
  const roles = [
    "console",
    ...CASES.filter((c) => c.enabled(config)).flatMap((c) => c.services.map((s) => `${c.name}:${s}`)),
  ];
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

import { createService, type Service } from "../platform/http/index.ts";
import { type Runtime, redactUrl } from "./runtime.ts";

/**
 * The system's front door: what is running, on which profile, and where. It is the first service on the
 * service kit; the case studies' services start beside it.
 */
export function createConsoleService(runtime: Runtime, links: () => Record<string, string>): Service {
  const { config } = runtime;
  const service = createService({
    name: "console",
    logger: runtime.logger,
    registry: runtime.registry,
    http: config.http,
    admin: config.admin,
    serviceKeys: config.auth.serviceKeys,
    shutdown: config.shutdown,
    readiness: { store: () => runtime.store.ping() },
    extensions: runtime.extensions,
  });
  const startedAt = new Date().toISOString();
  service.app.get("/", async () => ({
    name: "bulwark",
    profile: config.profile,
    startedAt,
    services: links(),
    docs: "README.md, docs/ARCHITECTURE.md, docs/OPERATIONS.md",
  }));
  service.registerAdmin(async (admin) => {
    admin.get("/config", async () => redactConfig(config));
  });
  return service;
}

/** The effective configuration with secrets replaced, for operators. */
export function redactConfig(config: Runtime["config"]): Runtime["config"] {
  const copy = structuredClone(config);
  if (copy.admin.token) copy.admin.token = "[redacted]";
  copy.auth.serviceKeys = copy.auth.serviceKeys.map(() => "[redacted]");
  for (const section of [copy.database, copy.nats, copy.redis]) section.url = redactUrl(section.url);
  return copy;
}

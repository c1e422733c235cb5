export { CASES, type CaseModule, type CheckResult, caseNamed, type StartedCase } from "./cases/index.ts";
export { type AppConfig, AppConfigSchema, loadAppConfig } from "./config.ts";
export { createConsoleService, redactConfig } from "./console-service.ts";
export { faultInjectionExtensions } from "./fault-injection.ts";
export { portOf, processSpecs } from "./processes.ts";
export { createRuntime, type Runtime, redactUrl, storeConfigFor } from "./runtime.ts";
export { isRole, ROLES, type Role, type RunningSystem, startSystem } from "./system.ts";

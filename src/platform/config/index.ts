export { ConfigError, type ConfigProblem, envVariables, type LoadConfigOptions, loadConfig } from "./load.ts";
export { type PlatformConfig, PlatformConfigSchema, Section } from "./schema.ts";

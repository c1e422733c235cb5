export {
  ChaosConflictError,
  ChaosDisabledError,
  ChaosError,
  type ChaosErrorCode,
  ChaosNotFoundError,
  ChaosValidationError,
  type FieldError,
  isChaosError,
} from "./errors.ts";
export { type BuiltinTargets, builtinFunctions, type SupervisorControl } from "./experiments/builtins.ts";
export type { ChaosFunction, FunctionContext, FunctionRegistry } from "./experiments/functions.ts";
export { compileJsonPath, queryJsonPath } from "./experiments/jsonpath.ts";
export { loadExperiment, parseExperiment } from "./experiments/load.ts";
export { type RunExperimentOptions, type RunPhase, runExperiment } from "./experiments/runner.ts";
export { type Tolerance, withinTolerance } from "./experiments/tolerance.ts";
export type {
  Activity,
  ActivityRun,
  Experiment,
  ExperimentStatus,
  Journal,
  Provider,
  SteadyState,
} from "./experiments/types.ts";
export { faultModeEnabled } from "./fault-mode.ts";
export {
  type FailureFlagsAdminOptions,
  failureFlagsAdminRoutes,
} from "./flags/admin-routes.ts";
export type { FailureFlag, FailureFlagView, FlagFault } from "./flags/flag.ts";
export { FailureFlagStore, type FailureFlagStoreOptions } from "./flags/flag-store.ts";
export { type FailureFlagsPluginOptions, failureFlagsPlugin } from "./flags/plugin.ts";
export { createFaultProxyApi, FAULT_PROXY_API_VERSION, type FaultProxyApiOptions } from "./proxy/api.ts";
export { FaultProxyClient, type FaultProxyControl } from "./proxy/client.ts";
export {
  FaultProxyServer,
  type FaultProxyServerOptions,
  type ProxyInput,
  type ToxicInput,
} from "./proxy/fault-proxy-server.ts";
export type { ProxyConfig, ProxyInfo } from "./proxy/proxy.ts";
export type { StreamDirection, ToxicConfig } from "./proxy/toxic.ts";

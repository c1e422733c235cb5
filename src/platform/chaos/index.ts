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
export { createFaultProxyApi, FAULT_PROXY_API_VERSION, type FaultProxyApiOptions } from "./proxy/api.ts";
export {
  FaultProxyServer,
  type FaultProxyServerOptions,
  type ProxyInput,
  type ToxicInput,
} from "./proxy/fault-proxy-server.ts";
export type { ProxyConfig, ProxyInfo } from "./proxy/proxy.ts";
export type { StreamDirection, ToxicConfig } from "./proxy/toxic.ts";

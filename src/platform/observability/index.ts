export { createLogger, type Logger, type LoggerOptions } from "./logger.ts";
export { createHttpMetrics, createMetricsRegistry, type HttpMetrics, Registry } from "./metrics.ts";
export {
  currentTraceparent,
  injectTraceHeaders,
  type TextResponse,
  tracedFetch,
  tracedRequest,
} from "./propagation.ts";
export { luhnValid, maskCardNumbers, REDACTED_PATHS } from "./redact.ts";
export { setupTracing, type Tracing, type TracingOptions } from "./tracing.ts";

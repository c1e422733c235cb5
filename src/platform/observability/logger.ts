import { trace } from "@opentelemetry/api";
import pino, { type Logger } from "pino";
import { maskCardNumbers, REDACTED_PATHS } from "./redact.ts";

export type { Logger } from "pino";

export interface LoggerOptions {
  level?: string;
  /** Human-readable output; defaults to on when stdout is a terminal. */
  pretty?: boolean;
  /** Base bindings, e.g. `{ service: "order" }`. */
  base?: Record<string, unknown>;
  /** Where JSON lines go; defaults to stdout. Tests pass a stream to read them back. */
  destination?: pino.DestinationStream;
}

/**
 * Structured JSON logs with secrets redacted, card numbers masked in messages, and the active trace and
 * span ids on every line so a log line leads to its trace.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty = options.pretty ?? (process.stdout.isTTY === true && !options.destination);
  const config: pino.LoggerOptions = {
    level: options.level ?? "info",
    base: { pid: process.pid, ...options.base },
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      const span = trace.getActiveSpan();
      if (!span) return {};
      const { traceId, spanId } = span.spanContext();
      return { trace_id: traceId, span_id: spanId };
    },
    hooks: {
      logMethod(args, method) {
        for (let i = 0; i < args.length; i++) {
          if (typeof args[i] === "string") args[i] = maskCardNumbers(args[i] as string);
        }
        method.apply(this, args as Parameters<typeof method>);
      },
    },
  };
  if (pretty) {
    return pino({ ...config, transport: { target: "pino-pretty", options: { colorize: true } } });
  }
  return options.destination ? pino(config, options.destination) : pino(config);
}

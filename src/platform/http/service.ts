import { randomUUID, timingSafeEqual } from "node:crypto";
import { context, propagation, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyRequest,
  LogController,
} from "fastify";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { createHttpMetrics, createMetricsRegistry } from "../observability/index.ts";
import { bearerChallenge, bearerTokenOf } from "./bearer.ts";
import { installDeadlines } from "./deadline.ts";
import { HttpProblem, isHttpProblem, sendProblem, validationProblem } from "./problem.ts";
import type { TypeBoxTypeProvider } from "./type-provider.ts";

export type ServiceApp = FastifyInstance<
  import("node:http").Server,
  import("node:http").IncomingMessage,
  import("node:http").ServerResponse,
  import("fastify").FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** A dependency check for readiness: resolve when usable, throw (or reject) when not. */
export type ReadinessCheck = () => Promise<unknown>;

export interface ServiceOptions {
  name: string;
  logger: Logger;
  http?: { host?: string; port?: number; bodyLimitBytes?: number };
  /** Defaults to a new registry with process metrics. Share one across services in one process. */
  registry?: Registry;
  admin?: { enabled: boolean; token?: string; allowRemote?: boolean };
  /** API keys accepted in `x-api-key` on routes declared with `config: { auth: "service" }`. */
  serviceKeys?: string[];
  shutdown?: { readinessGraceMs?: number; drainTimeoutMs?: number };
  /**
   * Applied once the service is built, before it listens: cross-cutting additions the composition root
   * chooses (fault injection, say) without the service knowing.
   */
  extensions?: readonly ServiceExtension[];
  /** Dependencies the service cannot work without (its DB, its bus). Not optional ones. */
  readiness?: Record<string, ReadinessCheck>;
  readinessTimeoutMs?: number;
}

/** Adds hooks, routes or admin routes to a service as it is built. */
export type ServiceExtension = (service: Service) => void;

export interface Service {
  readonly name: string;
  readonly app: ServiceApp;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Registers routes under `/admin`, behind the admin token, only when admin is enabled. */
  registerAdmin(plugin: FastifyPluginAsync): void;
  addReadinessCheck(name: string, check: ReadinessCheck): void;
  /** Runs after the HTTP server has drained, in reverse order of registration (close the bus, then the DB). */
  onShutdown(fn: () => Promise<void> | void): void;
  /** Listens, then marks start-up complete. Resolves to the base URL. */
  listen(): Promise<string>;
  /** True once SIGTERM (or stop) has begun: readiness fails from then on. */
  readonly draining: boolean;
  /** Graceful stop: fail readiness, wait the grace period, drain in-flight requests (bounded), close. */
  stop(): Promise<void>;
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** "service": the route requires a service API key in `x-api-key` (when keys are configured). */
    auth?: "service";
  }
}

const kSpan = Symbol("bulwark.span");
type TracedRequest = FastifyRequest & { [kSpan]?: Span };
const tracer = trace.getTracer("bulwark.http");
const REQUEST_ID = /^[\w.:@-]{1,128}$/;

/** Builds a Fastify service with Bulwark's validation, problem+json errors, tracing, metrics, health and shutdown. */
export function createService(options: ServiceOptions): Service {
  const registry = options.registry ?? createMetricsRegistry();
  const httpMetrics = createHttpMetrics(registry);
  const logger = options.logger.child({ service: options.name });
  const readiness = new Map<string, ReadinessCheck>(Object.entries(options.readiness ?? {}));
  const shutdownHooks: Array<() => Promise<void> | void> = [];
  const adminPlugins: FastifyPluginAsync[] = [];
  let started = false;
  let draining = false;
  let stopping: Promise<void> | undefined;

  const app = Fastify({
    loggerInstance: logger as import("fastify").FastifyBaseLogger,
    bodyLimit: options.http?.bodyLimitBytes ?? 1024 * 1024,
    genReqId: (req) => {
      const header = req.headers["x-request-id"];
      return typeof header === "string" && REQUEST_ID.test(header) ? header : randomUUID();
    },
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: "request_id" }),
    return503OnClosing: true,
    ajv: { customOptions: { allErrors: true, coerceTypes: "array", removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addHook("onRequest", (request: TracedRequest, reply, done) => {
    const parent = propagation.extract(context.active(), request.headers);
    const span = tracer.startSpan(
      `${request.method}`,
      {
        kind: SpanKind.SERVER,
        attributes: { "http.request.method": request.method, "url.path": request.url },
      },
      parent,
    );
    request[kSpan] = span;
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(parent, span), carrier);
    if (carrier.traceparent) reply.header("traceparent", carrier.traceparent);
    reply.header("x-request-id", request.id);
    context.with(trace.setSpan(parent, span), done);
  });

  // Body parsing may resume outside the request's async context; re-enter it so handlers, logs and
  // outgoing calls see the request's span.
  app.addHook("preHandler", (request: TracedRequest, _reply, done) => {
    const span = request[kSpan];
    if (span) context.with(trace.setSpan(context.active(), span), done);
    else done();
  });

  // x-deadline-ms → request.deadline and currentDeadline() (see deadline.ts).
  installDeadlines(app);

  app.addHook("onRequest", async (request) => {
    if (request.routeOptions.config?.auth !== "service" || !options.serviceKeys?.length) return;
    const key = request.headers["x-api-key"];
    if (typeof key !== "string" || !options.serviceKeys.some((k) => safeEqual(k, key))) {
      throw new HttpProblem(
        401,
        "unauthenticated",
        "A valid service API key is required",
        "send it in x-api-key",
      );
    }
  });

  app.addHook("onResponse", (request: TracedRequest, reply, done) => {
    const route = request.routeOptions.url ?? "unmatched";
    const status = String(reply.statusCode);
    const labels = { method: request.method, route, status_code: status };
    httpMetrics.duration.observe(labels, reply.elapsedTime / 1000);
    if (reply.statusCode >= 500) httpMetrics.errors.inc(labels);
    const span = request[kSpan];
    if (span) {
      span.updateName(`${request.method} ${route}`);
      span.setAttribute("http.route", route);
      span.setAttribute("http.response.status_code", reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });

  app.addHook("onRequestAbort", (request: TracedRequest, done) => {
    request[kSpan]?.setStatus({ code: SpanStatusCode.ERROR, message: "client aborted" });
    request[kSpan]?.end();
    done();
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isHttpProblem(error)) return sendProblem(reply, error);
    if (error.validation) return sendProblem(reply, validationProblem(error));
    const status = error.statusCode ?? 500;
    if (status < 500) {
      const type =
        status === 413 ? "payload-too-large" : status === 415 ? "unsupported-media-type" : "bad-request";
      return sendProblem(reply, new HttpProblem(status, type, httpTitle(status), error.message));
    }
    request.log.error({ err: error }, "request failed");
    // No stack traces or internals in responses (OWASP API8).
    return sendProblem(reply, new HttpProblem(status, "internal", httpTitle(status)));
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      new HttpProblem(404, "not-found", "Not Found", `no route for ${request.method} ${request.url}`),
    ),
  );

  app.get("/health/live", { logLevel: "warn" }, async () => ({ status: "ok" }));
  app.get("/health/startup", { logLevel: "warn" }, async (_req, reply) =>
    started ? { status: "started" } : reply.code(503).send({ status: "starting" }),
  );
  app.get("/health/ready", { logLevel: "warn" }, async (_req, reply) => {
    if (!started || draining) {
      return reply.code(503).send({ status: draining ? "draining" : "starting", checks: {} });
    }
    const timeoutMs = options.readinessTimeoutMs ?? 2_000;
    const entries = await Promise.all(
      [...readiness].map(async ([name, check]) => {
        const t0 = performance.now();
        try {
          await withTimeout(check(), timeoutMs, name);
          return [name, { status: "ok", durationMs: round(performance.now() - t0) }] as const;
        } catch (err) {
          return [
            name,
            { status: "failing", error: (err as Error).message, durationMs: round(performance.now() - t0) },
          ] as const;
        }
      }),
    );
    const ok = entries.every(([, r]) => r.status === "ok");
    return reply
      .code(ok ? 200 : 503)
      .send({ status: ok ? "ready" : "not-ready", checks: Object.fromEntries(entries) });
  });
  app.get("/metrics", { logLevel: "warn" }, async (_req, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );

  const admin = options.admin;
  if (admin?.enabled) {
    if (!admin.token) throw new Error(`${options.name}: admin is enabled but no admin token is configured`);
    const token = admin.token;
    app.register(
      async (scope) => {
        scope.addHook("onRequest", async (request, reply) => {
          if (!admin.allowRemote && !isLoopback(request.socket.remoteAddress)) {
            throw new HttpProblem(403, "forbidden", "Admin routes are reachable from loopback only");
          }
          const presented = bearerTokenOf(request.headers.authorization);
          if (!presented || !safeEqual(token, presented)) {
            throw bearerChallenge(
              reply,
              "admin",
              "A valid admin token is required",
              "send Authorization: Bearer <token>",
            );
          }
        });
        for (const plugin of adminPlugins) await scope.register(plugin);
      },
      { prefix: "/admin" },
    );
  }

  const service: Service = {
    name: options.name,
    app,
    registry,
    logger,
    get draining() {
      return draining;
    },
    registerAdmin(plugin) {
      adminPlugins.push(plugin);
    },
    addReadinessCheck(name, check) {
      readiness.set(name, check);
    },
    onShutdown(fn) {
      shutdownHooks.push(fn);
    },
    async listen() {
      const address = await app.listen({
        host: options.http?.host ?? "127.0.0.1",
        port: options.http?.port ?? 0,
      });
      started = true;
      return address;
    },
    stop() {
      stopping ??= (async () => {
        draining = true;
        logger.info("shutting down: readiness now fails");
        await new Promise((r) => setTimeout(r, started ? (options.shutdown?.readinessGraceMs ?? 0) : 0));
        const drainTimeout = options.shutdown?.drainTimeoutMs ?? 10_000;
        const force = setTimeout(() => {
          logger.warn({ drainTimeoutMs: drainTimeout }, "drain timeout: closing remaining connections");
          app.server.closeAllConnections();
        }, drainTimeout);
        try {
          await app.close();
        } finally {
          clearTimeout(force);
        }
        for (const hook of shutdownHooks.reverse()) {
          try {
            await hook();
          } catch (err) {
            logger.error({ err }, "shutdown hook failed");
          }
        }
        logger.info("stopped");
      })();
      return stopping;
    },
  };
  for (const extend of options.extensions ?? []) extend(service);
  return service;
}

function safeEqual(expected: string, presented: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

function isLoopback(address: string | undefined): boolean {
  return (
    address === "127.0.0.1" || address === "::1" || address === "::ffff:127.0.0.1" || address === undefined
  );
}

function withTimeout<T>(promise: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${name} check timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const round = (ms: number) => Math.round(ms * 100) / 100;

function httpTitle(status: number): string {
  return (
    (
      {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        409: "Conflict",
        413: "Payload Too Large",
        415: "Unsupported Media Type",
        422: "Unprocessable Content",
        429: "Too Many Requests",
        500: "Internal Server Error",
        503: "Service Unavailable",
      } as Record<number, string>
    )[status] ?? "Error"
  );
}

import { Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from "fastify";
import { HttpProblem, isHttpProblem, sendProblem } from "../http/index.ts";
import { bearerTokenGuard } from "./bearer-guard.ts";
import { isSupervisorError } from "./errors.ts";
import type { Supervisor } from "./supervisor.ts";

export const FaultRequestSchema = Type.Object(
  {
    action: Type.Union([
      Type.Literal("kill"),
      Type.Literal("pause"),
      Type.Literal("resume"),
      Type.Literal("restart"),
    ]),
    target: Type.Union([
      Type.String({ minLength: 1 }),
      Type.Object({ service: Type.String({ minLength: 1 }), random: Type.Optional(Type.Boolean()) }),
    ]),
  },
  { additionalProperties: false },
);

export interface ControlApiOptions {
  supervisor: Supervisor;
  token: string;
  /** Fault mode: kill/pause/resume/restart are refused (403) unless true. Status is always served. */
  faultsEnabled: boolean;
  logger?: FastifyBaseLogger | boolean;
}

/**
 * The supervisor's control API, for `bulwark status` and chaos experiments: `GET /status` and
 * `POST /faults {action, target}`. Token-protected; bind it to loopback.
 */
export function createControlApi(options: ControlApiOptions): FastifyInstance {
  const { supervisor } = options;
  const app = Fastify({ logger: options.logger ?? false });
  app.addHook("onRequest", bearerTokenGuard(options.token, "supervisor"));
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    if (isHttpProblem(error)) return sendProblem(reply, error);
    if (isSupervisorError(error)) {
      const status = error.code === "BWK_ERR_SUPERVISOR_UNKNOWN_TARGET" ? 404 : 409;
      return sendProblem(
        reply,
        new HttpProblem(status, "fault-rejected", "Fault rejected", error.message, { code: error.code }),
      );
    }
    const status = error.statusCode && error.statusCode < 500 ? error.statusCode : 500;
    return sendProblem(
      reply,
      new HttpProblem(status, "error", "Request failed", status < 500 ? error.message : undefined),
    );
  });

  app.get("/status", async () => ({ pid: process.pid, processes: supervisor.status() }));
  app.post("/faults", async (request) => {
    if (!Value.Check(FaultRequestSchema, request.body)) {
      const errors = [...Value.Errors(FaultRequestSchema, request.body)].map((e) => ({
        field: e.path.replace(/^\//, "").replaceAll("/", ".") || "(body)",
        message: e.message,
      }));
      throw new HttpProblem(400, "validation", "The request is invalid", "bad fault request", { errors });
    }
    if (!options.faultsEnabled) {
      throw new HttpProblem(
        403,
        "chaos-disabled",
        "Process faults are disabled",
        "start `bulwark up` with --enable-faults or BULWARK_CHAOS_ENABLED=1",
      );
    }
    const { action, target } = request.body;
    const name = await supervisor.fault(action, target);
    return { action, process: name, status: supervisor.status().find((p) => p.name === name) };
  });
  return app;
}

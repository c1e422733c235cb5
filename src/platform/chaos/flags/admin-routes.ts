import type { FastifyError, FastifyPluginAsync } from "fastify";
import { sendProblem } from "../../http/index.ts";
import { isChaosError } from "../errors.ts";
import { toProblem } from "../http/problems.ts";
import type { FailureFlagStore } from "./flag-store.ts";

export interface FailureFlagsAdminOptions {
  store: FailureFlagStore;
}

interface FlagParams {
  id: string;
}

/**
 * `GET/PUT/DELETE /flags[/:id]` over a flag store. Carries no auth of its own: mount it under the service kit's
 * token-protected admin prefix (e.g. `service.registerAdmin` at `/admin/chaos`).
 */
export function failureFlagsAdminRoutes(options: FailureFlagsAdminOptions): FastifyPluginAsync {
  const { store } = options;
  return async (app) => {
    app.setErrorHandler((error: FastifyError, _request, reply) => {
      if (isChaosError(error)) return sendProblem(reply, toProblem(error));
      throw error;
    });
    app.get("/flags", async () => ({ enabled: store.enabled, flags: store.list() }));
    app.get<{ Params: FlagParams }>("/flags/:id", async (request) => store.get(request.params.id));
    app.put<{ Params: FlagParams }>("/flags/:id", async (request) =>
      store.set(request.params.id, request.body),
    );
    app.delete<{ Params: FlagParams }>("/flags/:id", async (request, reply) => {
      store.delete(request.params.id);
      return reply.code(204).send();
    });
    app.delete("/flags", async (_request, reply) => {
      store.clear();
      return reply.code(204).send();
    });
  };
}

import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { bearerTokenGuard } from "../../supervisor/index.ts";
import { ChaosDisabledError } from "../errors.ts";
import { useProblemErrors } from "../http/problems.ts";
import type { FaultProxyServer } from "./fault-proxy-server.ts";

export interface FaultProxyApiOptions {
  server: FaultProxyServer;
  /** Fault mode: the API refuses to exist unless this is true. */
  enabled: boolean;
  /** Bearer token every request must present (at least 16 characters). */
  token: string;
  logger?: FastifyBaseLogger | boolean;
}

export const FAULT_PROXY_API_VERSION = "bulwark-chaos/0.1 (toxiproxy 2.x API)";

interface ProxyParams {
  name: string;
}
interface ToxicParams extends ProxyParams {
  toxic: string;
}

/**
 * Toxiproxy's HTTP API over a {@link FaultProxyServer}: same routes and JSON shapes, plus a bearer token, and
 * problem+json errors that name the bad field. Listen on loopback (see `listenOnLoopback`).
 */
export function createFaultProxyApi(options: FaultProxyApiOptions): FastifyInstance {
  if (!options.enabled) throw new ChaosDisabledError("the fault proxy API");
  const { server } = options;
  const app = Fastify({ logger: options.logger ?? false });
  useProblemErrors(app);
  app.addHook("onRequest", bearerTokenGuard(options.token, "chaos"));

  app.get("/version", async () => ({ version: FAULT_PROXY_API_VERSION }));
  app.get("/proxies", async () => server.listProxies());
  app.post("/proxies", async (request, reply) =>
    reply.code(201).send(await server.createProxy(request.body)),
  );
  app.post("/populate", async (request, reply) =>
    reply.code(201).send({ proxies: await server.populate(request.body) }),
  );
  app.get<{ Params: ProxyParams }>("/proxies/:name", async (request) => server.getProxy(request.params.name));
  const updateProxy = async (request: { params: ProxyParams; body: unknown }) =>
    server.updateProxy(request.params.name, request.body);
  app.patch<{ Params: ProxyParams }>("/proxies/:name", updateProxy);
  // Toxiproxy before 2.6 updated with POST; old clients still do.
  app.post<{ Params: ProxyParams }>("/proxies/:name", updateProxy);
  app.delete<{ Params: ProxyParams }>("/proxies/:name", async (request, reply) => {
    await server.deleteProxy(request.params.name);
    return reply.code(204).send();
  });

  app.get<{ Params: ProxyParams }>("/proxies/:name/toxics", async (request) =>
    server.listToxics(request.params.name),
  );
  app.post<{ Params: ProxyParams }>("/proxies/:name/toxics", async (request) =>
    server.addToxic(request.params.name, request.body),
  );
  app.get<{ Params: ToxicParams }>("/proxies/:name/toxics/:toxic", async (request) =>
    server.getToxic(request.params.name, request.params.toxic),
  );
  const updateToxic = async (request: { params: ToxicParams; body: unknown }) =>
    server.updateToxic(request.params.name, request.params.toxic, request.body);
  app.patch<{ Params: ToxicParams }>("/proxies/:name/toxics/:toxic", updateToxic);
  app.post<{ Params: ToxicParams }>("/proxies/:name/toxics/:toxic", updateToxic);
  app.delete<{ Params: ToxicParams }>("/proxies/:name/toxics/:toxic", async (request, reply) => {
    await server.removeToxic(request.params.name, request.params.toxic);
    return reply.code(204).send();
  });

  app.post("/reset", async (_request, reply) => {
    await server.reset();
    return reply.code(204).send();
  });
  return app;
}

import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { PROBLEM_CONTENT_TYPE } from "../../http/index.ts";
import { type Clock, systemClock } from "../../time/index.ts";
import type { FailureFlagStore } from "./flag-store.ts";

export interface FailureFlagsPluginOptions {
  store: FailureFlagStore;
  clock?: Clock;
}

/**
 * A service-kit hook that injects the store's faults per route and method: a delay, an error status
 * (problem+json), an aborted connection, or failing the first N requests. It is not encapsulated, so register
 * it on the service's root instance to reach every route.
 */
export function failureFlagsPlugin(options: FailureFlagsPluginOptions): FastifyPluginAsync {
  const { store } = options;
  const clock = options.clock ?? systemClock;
  const plugin: FastifyPluginAsync = async (app) => {
    app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
      if (store.size === 0) return;
      const path = request.url.split("?", 1)[0] ?? request.url;
      for (const fault of store.decide(request.method, request.routeOptions.url, path)) {
        if (fault.kind === "delay") {
          await clock.sleep(fault.ms);
        } else if (fault.kind === "abort") {
          reply.hijack();
          request.raw.socket.destroy();
          return reply;
        } else {
          const detail = fault.kind === "error" && fault.detail ? fault.detail : "injected by a failure flag";
          return reply.code(fault.status).type(PROBLEM_CONTENT_TYPE).send({
            type: "https://bulwark.dev/problems/injected-fault",
            title: "Injected fault",
            status: fault.status,
            detail,
          });
        }
      }
    });
  };
  // Fastify's documented escape from encapsulation (what fastify-plugin sets): the hook covers sibling routes.
  (plugin as unknown as Record<symbol, boolean>)[Symbol.for("skip-override")] = true;
  return plugin;
}

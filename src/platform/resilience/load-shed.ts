import { monitorEventLoopDelay } from "node:perf_hooks";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

export interface LoadShedOptions {
  /** Shed while the event loop's p99 delay over the last sample exceeds this. Milliseconds, default 200. */
  maxLagMs?: number;
  /** How often the lag is sampled. Milliseconds, default 500. */
  sampleMs?: number;
  /** `Retry-After` sent with 503, in seconds. Default 1. */
  retryAfterSeconds?: number;
  /** Requests never shed (health probes, metrics). */
  skip?: (request: FastifyRequest) => boolean;
  /** Where the lag comes from; defaults to `monitorEventLoopDelay`. Milliseconds. */
  lagProbe?: () => number;
}

function eventLoopLag(): { probe: () => number; stop: () => void } {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  return {
    probe: () => {
      const lagMs = histogram.percentile(99) / 1e6;
      histogram.reset();
      return lagMs;
    },
    stop: () => histogram.disable(),
  };
}

async function loadShed(app: FastifyInstance, options: LoadShedOptions): Promise<void> {
  const maxLagMs = options.maxLagMs ?? 200;
  const retryAfter = String(options.retryAfterSeconds ?? 1);
  const own = options.lagProbe ? undefined : eventLoopLag();
  const probe = options.lagProbe ?? own!.probe;
  let shedding = false;
  const sample = () => {
    shedding = probe() > maxLagMs;
  };
  sample();
  const timer = setInterval(sample, options.sampleMs ?? 500);
  timer.unref();
  app.addHook("onClose", async () => {
    clearInterval(timer);
    own?.stop();
  });
  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    if (!shedding || options.skip?.(request)) return;
    return reply.code(503).header("Retry-After", retryAfter).type("application/problem+json").send({
      type: "https://bulwark.dev/problems/overloaded",
      title: "Service Unavailable",
      status: 503,
      detail: "the server is overloaded; retry later",
    });
  });
}

/**
 * Fastify plugin: answers 503 + `Retry-After` while the event loop lags, so an overloaded instance sheds
 * work early instead of timing every request out. Applies to the instance it is registered on and its parents.
 */
export const loadShedPlugin = Object.assign(loadShed, {
  [Symbol.for("skip-override")]: true,
  [Symbol.for("fastify.display-name")]: "bulwark-load-shed",
});

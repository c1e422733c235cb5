import { Type } from "@sinclair/typebox";
import { isChunk } from "../channel.ts";
import { pause, type ToxicKind } from "../toxic.ts";

/** Delays each chunk by a uniform value in [latency − jitter, latency + jitter), measured from its arrival. */
export const latencyToxic: ToxicKind = {
  type: "latency",
  attributes: Type.Object({
    latency: Type.Integer({ minimum: 0, default: 0 }),
    jitter: Type.Integer({ minimum: 0, default: 0 }),
  }),
  async pipe({ latency = 0, jitter = 0 }, stub) {
    for (;;) {
      const item = await stub.input.take(stub.interrupt);
      if (item === undefined) return;
      if (isChunk(item)) {
        const delay = latency + (jitter > 0 ? (stub.random() * 2 - 1) * jitter : 0);
        const wait = item.arrivedAt + delay - stub.clock.monotonic();
        if (!(await pause(stub, wait))) {
          stub.input.unshift(item);
          return;
        }
      }
      stub.output.push(item);
    }
  },
};

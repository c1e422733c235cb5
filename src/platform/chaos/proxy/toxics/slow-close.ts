import { Type } from "@sinclair/typebox";
import { isChunk } from "../channel.ts";
import { pause, type ToxicKind } from "../toxic.ts";

/** Passes data untouched and holds the close (end of stream) back for `delay` ms. */
export const slowCloseToxic: ToxicKind = {
  type: "slow_close",
  attributes: Type.Object({ delay: Type.Integer({ minimum: 0, default: 0 }) }),
  async pipe({ delay = 0 }, stub) {
    for (;;) {
      const item = await stub.input.take(stub.interrupt);
      if (item === undefined) return;
      if (!isChunk(item) && !(await pause(stub, delay))) {
        stub.input.unshift(item);
        return;
      }
      stub.output.push(item);
    }
  },
};

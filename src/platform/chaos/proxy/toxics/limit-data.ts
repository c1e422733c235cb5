import { Type } from "@sinclair/typebox";
import { isChunk } from "../channel.ts";
import type { ToxicKind } from "../toxic.ts";

/** Lets exactly `bytes` bytes through per connection and direction, then closes the connection. */
export const limitDataToxic: ToxicKind = {
  type: "limit_data",
  attributes: Type.Object({ bytes: Type.Integer({ minimum: 0, default: 0 }) }),
  async pipe({ bytes = 0 }, stub) {
    for (;;) {
      const item = await stub.input.take(stub.interrupt);
      if (item === undefined) return;
      if (!isChunk(item)) {
        stub.close();
        return;
      }
      const sent = stub.state.sent ?? 0;
      const allowed = item.data.subarray(0, Math.max(0, bytes - sent));
      if (allowed.length > 0) stub.output.push({ data: allowed, arrivedAt: item.arrivedAt });
      stub.state.sent = sent + allowed.length;
      if (stub.state.sent >= bytes) {
        stub.close();
        return;
      }
    }
  },
};

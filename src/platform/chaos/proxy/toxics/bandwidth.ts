import { Type } from "@sinclair/typebox";
import { isChunk } from "../channel.ts";
import { pause, type ToxicKind } from "../toxic.ts";

/** Slices bigger than this many milliseconds of transfer are split, so the stream stays smooth. */
const SLICE_MS = 100;

/**
 * Caps throughput at `rate` KB/s (1 KB = 1000 bytes, as Toxiproxy). Each slice is due at an absolute time on a
 * running schedule, so timer overshoot does not accumulate into a lower rate.
 */
export const bandwidthToxic: ToxicKind = {
  type: "bandwidth",
  attributes: Type.Object({ rate: Type.Integer({ minimum: 0, default: 0 }) }),
  async pipe({ rate = 0 }, stub) {
    const bytesPerMs = rate;
    for (;;) {
      const item = await stub.input.take(stub.interrupt);
      if (item === undefined) return;
      if (!isChunk(item) || bytesPerMs <= 0) {
        stub.output.push(item);
        continue;
      }
      let data = item.data;
      while (data.length > 0) {
        const slice = data.subarray(0, bytesPerMs * SLICE_MS);
        const now = stub.clock.monotonic();
        const dueAt = Math.max(stub.state.nextAt ?? now, now) + slice.length / bytesPerMs;
        if (!(await pause(stub, dueAt - now))) {
          stub.input.unshift({ data, arrivedAt: item.arrivedAt });
          return;
        }
        stub.state.nextAt = dueAt;
        stub.output.push({ data: slice, arrivedAt: item.arrivedAt });
        data = data.subarray(slice.length);
      }
    }
  },
};

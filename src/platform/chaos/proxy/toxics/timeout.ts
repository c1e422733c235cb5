import { Type } from "@sinclair/typebox";
import type { ToxicKind } from "../toxic.ts";

/**
 * Drops all data and closes the connection `timeout` ms after the toxic took hold of it; with 0 the connection
 * is held open, silently dropping data, until the toxic is removed.
 */
export const timeoutToxic: ToxicKind = {
  type: "timeout",
  attributes: Type.Object({ timeout: Type.Integer({ minimum: 0, default: 0 }) }),
  async pipe({ timeout = 0 }, stub) {
    const expired = new AbortController();
    let timer: { cancel(): void } | undefined;
    if (timeout > 0) {
      // The clock starts once per connection, so rebuilding the pipeline does not extend the timeout.
      stub.state.startedAt ??= stub.clock.monotonic();
      const startedAt = stub.state.startedAt;
      timer = stub.clock.setTimeout(() => expired.abort(), startedAt + timeout - stub.clock.monotonic());
    }
    const stop = AbortSignal.any([stub.interrupt, expired.signal]);
    while ((await stub.input.take(stop)) !== undefined) {
      // Dropped on the floor, as Toxiproxy does.
    }
    timer?.cancel();
    if (!stub.interrupt.aborted) stub.close();
  },
};

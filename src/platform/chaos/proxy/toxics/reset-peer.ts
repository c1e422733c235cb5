import { Type } from "@sinclair/typebox";
import { pause, type ToxicKind } from "../toxic.ts";

/**
 * On the first data, waits `timeout` ms (0: at once) and resets the connection with a TCP RST, discarding
 * anything unsent, the way Toxiproxy sets SO_LINGER to 0 before closing.
 */
export const resetPeerToxic: ToxicKind = {
  type: "reset_peer",
  attributes: Type.Object({ timeout: Type.Integer({ minimum: 0, default: 0 }) }),
  async pipe({ timeout = 0 }, stub) {
    const item = await stub.input.take(stub.interrupt);
    if (item === undefined) return;
    if (!(await pause(stub, timeout))) {
      stub.input.unshift(item);
      return;
    }
    stub.reset();
  },
};

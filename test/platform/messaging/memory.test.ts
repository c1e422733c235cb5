import { createBus, MemoryLogDriver } from "../../../src/platform/messaging/index.ts";
import { busContract, registry } from "./bus-contract.ts";

busContract("in-memory", async () => {
  const driver = new MemoryLogDriver();
  return {
    open: async (options) =>
      createBus({
        driver,
        ownsDriver: false,
        leaseTtlMs: 1_000,
        heartbeatMs: 50,
        ...(options?.registry === null ? {} : { registry: options?.registry ?? registry() }),
      }),
    teardown: async () => {},
  };
});

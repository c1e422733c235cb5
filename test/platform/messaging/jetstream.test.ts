import { createBus, type JetStreamDriver, jetStreamDriver } from "../../../src/platform/messaging/index.ts";
import { SERVICES, serviceAvailable, uniqueName } from "../../support/services.ts";
import { busContract, registry } from "./bus-contract.ts";

const ok = await serviceAvailable("nats");

busContract(
  "NATS JetStream",
  async () => {
    const namespace = uniqueName("bwk").replace(/[^A-Za-z0-9_-]/g, "_");
    const drivers: JetStreamDriver[] = [];
    return {
      open: async (options) => {
        const driver = await jetStreamDriver({ servers: SERVICES.nats.url, namespace });
        drivers.push(driver);
        return createBus({
          driver,
          system: "nats",
          leaseTtlMs: 1_500,
          heartbeatMs: 100,
          ...(options?.registry === null ? {} : { registry: options?.registry ?? registry() }),
        });
      },
      teardown: async () => {
        const cleaner = await jetStreamDriver({ servers: SERVICES.nats.url, namespace });
        await cleaner.deleteNamespace();
        await cleaner.close();
      },
    };
  },
  !ok,
);

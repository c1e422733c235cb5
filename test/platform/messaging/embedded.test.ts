import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBus, embeddedDriver } from "../../../src/platform/messaging/index.ts";
import { openStore, type Store } from "../../../src/platform/storage/index.ts";
import { busContract, registry } from "./bus-contract.ts";

busContract("embedded SQLite log", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bwk-embedded-"));
  const stores: Store[] = [];
  return {
    // Each bus gets its own connection to one file, as separate processes would.
    open: async (options) => {
      const store = await openStore({ kind: "sqlite", file: join(dir, "bus.db") });
      stores.push(store);
      return createBus({
        driver: await embeddedDriver({ store, pollMs: 10 }),
        leaseTtlMs: 1_500,
        heartbeatMs: 100,
        ...(options?.registry === null ? {} : { registry: options?.registry ?? registry() }),
      });
    },
    teardown: async () => {
      for (const store of stores) await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

import {
  type Bus,
  createBus,
  type EmbeddedLogDriver,
  embeddedDriver,
  jetStreamDriver,
} from "../../src/platform/messaging/index.ts";
import type { Store } from "../../src/platform/storage/index.ts";
import { SERVICES, uniqueName } from "./services.ts";

/** The bus a profile uses: the embedded log in the SQLite store, or JetStream beside Postgres. */
export async function busFor(store: Store): Promise<{ bus: Bus; sameStoreLog?: EmbeddedLogDriver }> {
  if (store.kind === "sqlite") {
    const driver = await embeddedDriver({ store, pollMs: 5 });
    return { bus: createBus({ driver, leaseTtlMs: 2_000 }), sameStoreLog: driver };
  }
  const driver = await jetStreamDriver({ servers: SERVICES.nats.url, namespace: uniqueName("bw") });
  const bus = createBus({ driver, leaseTtlMs: 2_000, ownsDriver: false });
  // A test's streams go with its bus: left behind, they pile up on the server and slow later runs.
  const close = bus.close.bind(bus);
  let closed: Promise<void> | undefined;
  bus.close = () =>
    (closed ??= (async () => {
      await close();
      await driver.deleteNamespace();
      await driver.close();
    })());
  return { bus };
}

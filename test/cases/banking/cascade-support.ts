import { FailureFlagStore, failureFlagsPlugin } from "../../../src/platform/chaos/index.ts";
import type { ServiceExtension } from "../../../src/platform/http/index.ts";

/**
 * Failure flags per service, by service name, through the service extensions (what fault mode installs in the
 * app): `flags.of("auth").set("slow", { route: "*", fault: { kind: "delay", ms: 2000 } })`.
 */
export function failureFlags() {
  const stores = new Map<string, FailureFlagStore>();
  const extension: ServiceExtension = (service) => {
    const store = new FailureFlagStore({ enabled: true });
    stores.set(service.name, store);
    service.app.register(failureFlagsPlugin({ store }));
  };
  return {
    extensions: [extension] as const,
    of(name: string): FailureFlagStore {
      const store = stores.get(name);
      if (!store) throw new Error(`no service named ${name} was built`);
      return store;
    },
  };
}

/** Percentile (nearest rank) of a list of numbers; NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

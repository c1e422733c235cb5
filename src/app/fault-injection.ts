import { FailureFlagStore, failureFlagsAdminRoutes, failureFlagsPlugin } from "../platform/chaos/index.ts";
import type { ServiceExtension } from "../platform/http/index.ts";

/**
 * In fault mode every service gets HTTP failure flags: the hook that injects them, and admin routes under
 * `/admin/chaos/flags` (token, loopback) to set them at run time. Off, services carry no hook at all.
 */
export function faultInjectionExtensions(enabled: boolean): { extensions: ServiceExtension[] } {
  if (!enabled) return { extensions: [] };
  const extension: ServiceExtension = (service) => {
    // One store per service: a flag set on the order service must not fire on inventory.
    const store = new FailureFlagStore({ enabled: true });
    service.app.register(failureFlagsPlugin({ store }));
    service.registerAdmin(async (admin) => {
      await admin.register(failureFlagsAdminRoutes({ store }), { prefix: "/chaos" });
    });
  };
  return { extensions: [extension] };
}

import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { AmbiguousOutcomeError, GatewayClient } from "../../../src/cases/commerce/payment/gateway-client.ts";
import { noop } from "../../../src/platform/resilience/index.ts";

describe("GatewayClient with a gateway that never answers", () => {
  const silent = createServer(() => undefined);
  afterAll(() => {
    silent.closeAllConnections();
    silent.close();
  });

  it("reports a charge's outcome as unknown once its own timeout passes, with no policy around it", async () => {
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    const client = new GatewayClient({
      baseUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
      policy: noop,
      idempotency: true,
      reconciliation: true,
      timeoutMs: 50,
    });
    const error = await client.charge("order-1", 1_000, "tok_visa").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AmbiguousOutcomeError);
    expect((error as Error).cause).toMatchObject({ name: "TimeoutError" });
  });
});

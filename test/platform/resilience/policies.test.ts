import { Value } from "@sinclair/typebox/value";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  createPolicies,
  DependencyPolicyConfigSchema,
  isBrokenCircuitError,
  type ResilienceConfig,
} from "../../../src/platform/resilience/index.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";

const config: ResilienceConfig = {
  "payment-gateway": {
    retry: { maxAttempts: 3, backoff: "constant", initialMs: 0, budget: { ratio: 0.2 } },
    breaker: { window: { kind: "consecutive", threshold: 2 }, openMs: 1_000 },
    timeout: { ms: 500 },
    bulkhead: { maxConcurrent: 4, maxQueue: 2 },
  },
  "fx-rates": { timeout: { ms: 100 }, retry: false, breaker: false },
  default: { timeout: { ms: 1_000 } },
};

function memoryLogger() {
  const lines: Array<{ level: string; obj: object; msg: string }> = [];
  return {
    lines,
    info: (obj: object, msg: string) => lines.push({ level: "info", obj, msg }),
    warn: (obj: object, msg: string) => lines.push({ level: "warn", obj, msg }),
  };
}

describe("createPolicies", () => {
  it("validates against the exported TypeBox schema", () => {
    for (const entry of Object.values(config))
      expect(Value.Check(DependencyPolicyConfigSchema, entry)).toBe(true);
    expect(Value.Check(DependencyPolicyConfigSchema, { timeout: { ms: -1 } })).toBe(false);
    expect(Value.Check(DependencyPolicyConfigSchema, { retry: { maxAttempts: 2, bogus: 1 } })).toBe(false);
  });

  it("builds the configured stack per dependency, with patterns switched off", async () => {
    const policies = createPolicies(config, { clock: new FakeClock() });
    const pay = policies.for("payment-gateway");
    expect(policies.for("payment-gateway")).toBe(pay);
    expect([pay.retry, pay.breaker, pay.timeout, pay.bulkhead].every((p) => p !== undefined)).toBe(true);
    const fx = policies.for("fx-rates");
    expect(fx.retry).toBeUndefined();
    expect(fx.breaker).toBeUndefined();
    expect(fx.timeout?.ms).toBe(100);
    expect(policies.for("unlisted").timeout?.ms).toBe(1_000);
    expect(await pay.execute(async (ctx) => ctx.attempt)).toBe(1);
  });

  it("throws a config error for an unknown dependency without a default", () => {
    const policies = createPolicies({ only: { timeout: { ms: 1 } } });
    expect(() => policies.for("other")).toThrow(/no resilience policy configured/);
  });

  it("retries inside the breaker, opens it, and logs the change", async () => {
    const logger = memoryLogger();
    const clock = new FakeClock();
    const policies = createPolicies(config, { clock, logger });
    const pay = policies.for("payment-gateway");
    let calls = 0;
    const err = await pay
      .execute(async () => {
        calls++;
        throw new Error("gateway down");
      })
      .catch((e) => e);
    // The breaker (threshold 2) opens on the second attempt; the retry does not hammer an open circuit.
    expect(calls).toBe(2);
    expect(isBrokenCircuitError(err)).toBe(true);
    expect(pay.breaker?.state).toBe("open");
    expect(logger.lines).toEqual([
      {
        level: "warn",
        obj: { dependency: "payment-gateway", from: "closed", to: "open" },
        msg: "circuit opened",
      },
    ]);
  });

  it("exports metrics to a prom-client registry, labelled by dependency", async () => {
    const registry = new Registry();
    const clock = new FakeClock();
    const policies = createPolicies(config, { clock, registry });
    const pay = policies.for("payment-gateway");
    await pay.execute(() => "ok");
    // Two attempts fail and open the breaker (threshold 2); the third attempt is refused by it.
    await pay.execute(() => Promise.reject(new Error("x"))).catch(() => {});
    const text = await registry.metrics();
    expect(text).toContain('bulwark_resilience_calls_total{dependency="payment-gateway"} 2');
    expect(text).toContain('bulwark_resilience_failures_total{dependency="payment-gateway"} 1');
    expect(text).toContain('bulwark_resilience_retries_total{dependency="payment-gateway"} 2');
    expect(text).toContain('bulwark_resilience_breaker_state{dependency="payment-gateway"} 1');
    expect(text).toContain(
      'bulwark_resilience_rejections_total{dependency="payment-gateway",reason="circuit_open"} 1',
    );
    expect(text).toContain('bulwark_resilience_bulkhead_queue_depth{dependency="payment-gateway"} 0');
    expect(text).toContain('bulwark_resilience_calls_total{dependency="fx-rates"} 0');
  });

  it("two policy sets on one registry (two cases in one process) share each metric", async () => {
    const registry = new Registry();
    const clock = new FakeClock();
    const commerce = createPolicies({ "payment-gateway": { timeout: { ms: 100 } } }, { clock, registry });
    const banking = createPolicies({ auth: { timeout: { ms: 100 } } }, { clock, registry });
    await commerce.for("payment-gateway").execute(() => "ok");
    await banking.for("auth").execute(() => "ok");
    await banking.for("auth").execute(() => "ok");
    const text = await registry.metrics();
    expect(text).toContain('bulwark_resilience_calls_total{dependency="payment-gateway"} 1');
    expect(text).toContain('bulwark_resilience_calls_total{dependency="auth"} 2');
    expect(text.match(/# TYPE bulwark_resilience_calls_total/g)).toHaveLength(1);
  });
});

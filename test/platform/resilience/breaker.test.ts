import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BreakerRegistry,
  type BreakerStateChange,
  circuitBreaker,
  isBrokenCircuitError,
} from "../../../src/platform/resilience/index.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";
import { deferred, flush } from "./helpers.ts";

const ok = () => Promise.resolve("ok");
const boom = () => Promise.reject(new Error("boom"));

describe("circuit breaker: state machine properties", () => {
  it("opens exactly when the consecutive-failure count reaches the threshold", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.boolean(), { maxLength: 60 }),
        async (k, outcomes) => {
          const breaker = circuitBreaker({
            window: { kind: "consecutive", threshold: k },
            clock: new FakeClock(),
          });
          let run = 0;
          for (const failed of outcomes) {
            await breaker.execute(failed ? boom : ok).catch(() => {});
            run = failed ? run + 1 : 0;
            expect(breaker.state).toBe(run >= k ? "open" : "closed");
            if (run >= k) return;
          }
        },
      ),
    );
  });

  it("opens exactly when the count window's failure rate reaches the threshold", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 100 }),
        fc.array(fc.boolean(), { maxLength: 60 }),
        async (size, minimumCalls, ratePct, outcomes) => {
          const failureRate = ratePct / 100;
          const breaker = circuitBreaker({
            window: { kind: "count", size, failureRate, minimumCalls },
            clock: new FakeClock(),
          });
          const seen: boolean[] = [];
          for (const failed of outcomes) {
            await breaker.execute(failed ? boom : ok).catch(() => {});
            seen.push(failed);
            const last = seen.slice(-size);
            const failures = last.filter(Boolean).length;
            const trips = last.length >= minimumCalls && failures >= failureRate * last.length;
            expect(breaker.state).toBe(trips ? "open" : "closed");
            if (trips) return;
          }
        },
      ),
    );
  });

  it("never lets more than N probes through while half-open, and closes after N successful probes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 10 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 20 }),
        async (probes, extra, order) => {
          const clock = new FakeClock();
          const breaker = circuitBreaker({
            window: { kind: "consecutive", threshold: 1 },
            openMs: 1_000,
            halfOpenProbes: probes,
            clock,
          });
          await breaker.execute(boom).catch(() => {});
          expect(breaker.state).toBe("open");
          await clock.advance(1_001);
          expect(breaker.state).toBe("half-open");

          const gates: Array<{ resolve: (v: string) => void }> = [];
          const results: Promise<unknown>[] = [];
          for (let i = 0; i < probes + extra; i++) {
            results.push(
              breaker
                .execute(() => {
                  const d = deferred<string>();
                  gates.push(d);
                  return d.promise;
                })
                .catch((e) => e),
            );
          }
          await flush();
          expect(gates.length).toBe(probes);
          expect(breaker.rejections).toBe(extra);

          // Resolve the probes in an arbitrary order; the circuit closes on the last one, not before.
          const pending = [...gates];
          for (let done = 0; done < probes; done++) {
            expect(breaker.state).toBe("half-open");
            const pick = order[done % order.length]! % pending.length;
            pending.splice(pick, 1)[0]!.resolve("ok");
            await flush();
          }
          expect(breaker.state).toBe("closed");
          await Promise.all(results);
        },
      ),
    );
  });

  it("reopens on a failed probe and ignores stragglers from before the change", async () => {
    const clock = new FakeClock();
    const breaker = circuitBreaker({
      window: { kind: "consecutive", threshold: 2 },
      openMs: 100,
      halfOpenProbes: 2,
      clock,
    });
    const straggler = deferred<string>();
    const slow = breaker.execute(() => straggler.promise);
    await breaker.execute(boom).catch(() => {});
    await breaker.execute(boom).catch(() => {});
    expect(breaker.state).toBe("open");
    await clock.advance(101);
    expect(breaker.state).toBe("half-open");
    // A call admitted while closed finishing now must not count as a probe.
    straggler.resolve("late");
    await slow;
    expect(breaker.state).toBe("half-open");
    await breaker.execute(boom).catch(() => {});
    expect(breaker.state).toBe("open");
  });
});

describe("circuit breaker: behaviour", () => {
  it("fails fast with one preallocated, stackless error", async () => {
    const breaker = circuitBreaker({
      name: "ledger",
      window: { kind: "consecutive", threshold: 1 },
      clock: new FakeClock(),
    });
    await breaker.execute(boom).catch(() => {});
    let called = false;
    const e1 = await breaker.execute(() => (called = true)).catch((e) => e);
    const e2 = await breaker.execute(ok).catch((e) => e);
    expect(called).toBe(false);
    expect(isBrokenCircuitError(e1)).toBe(true);
    expect(e1).toBe(e2);
    expect(e1.code).toBe("BWK_ERR_RESILIENCE_CIRCUIT_OPEN");
    expect(e1.dependency).toBe("ledger");
    expect(String(e1.stack).split("\n").length).toBe(1);
  });

  it("opens on a slow-call rate even when every call succeeds", async () => {
    const clock = new FakeClock();
    const breaker = circuitBreaker({
      window: { kind: "count", size: 4, failureRate: 1, slowCallRate: 0.5, minimumCalls: 4 },
      slowCallMs: 100,
      clock,
    });
    const call = async (ms: number) => {
      const p = breaker.execute(() => clock.sleep(ms).then(() => "ok"));
      await clock.advance(ms + 2);
      return p;
    };
    await call(10);
    await call(10);
    await call(150);
    expect(breaker.state).toBe("closed");
    await call(150);
    expect(breaker.state).toBe("open");
  });

  it("opens on the failure rate of a time window and forgets old buckets", async () => {
    const clock = new FakeClock();
    const breaker = circuitBreaker({
      window: { kind: "time", windowMs: 1_000, buckets: 10, failureRate: 0.5, minimumCalls: 4 },
      clock,
    });
    await breaker.execute(boom).catch(() => {});
    await breaker.execute(boom).catch(() => {});
    await clock.advance(1_500); // both failures age out
    await breaker.execute(ok);
    await breaker.execute(ok);
    await breaker.execute(ok);
    await breaker.execute(boom).catch(() => {});
    expect(breaker.state).toBe("closed"); // 1 failure out of 4
    await breaker.execute(boom).catch(() => {});
    await breaker.execute(boom).catch(() => {});
    expect(breaker.state).toBe("open"); // 3 out of 6
  });

  it("emits state changes and answers from the fallback while open", async () => {
    const clock = new FakeClock();
    const changes: BreakerStateChange[] = [];
    const breaker = circuitBreaker({
      name: "fx",
      window: { kind: "consecutive", threshold: 1 },
      openMs: 50,
      fallback: () => "cached",
      clock,
    });
    breaker.onStateChange.add((c) => changes.push(c));
    await breaker.execute(boom).catch(() => {});
    expect(await breaker.execute(ok)).toBe("cached");
    await clock.advance(60);
    await breaker.execute(ok);
    expect(changes.map((c) => `${c.from}->${c.to}`)).toEqual([
      "closed->open",
      "open->half-open",
      "half-open->closed",
    ]);
    expect(changes[0]!.name).toBe("fx");
  });

  it("does not count rejections of inner policies as failures", async () => {
    const breaker = circuitBreaker({ window: { kind: "consecutive", threshold: 1 }, clock: new FakeClock() });
    const { BulkheadRejectedError } = await import("../../../src/platform/resilience/index.ts");
    await breaker
      .execute(() => Promise.reject(new BulkheadRejectedError("x", "BWK_ERR_RESILIENCE_BULKHEAD_FULL")))
      .catch(() => {});
    expect(breaker.state).toBe("closed");
  });
});

describe("breaker registry", () => {
  it("keeps one breaker per key and evicts idle ones, but not open circuits", async () => {
    const clock = new FakeClock();
    const registry = new BreakerRegistry(
      (key) =>
        circuitBreaker({ name: key, window: { kind: "consecutive", threshold: 1 }, openMs: 1e9, clock }),
      { idleMs: 1_000, clock },
    );
    const a = registry.get("host-a");
    expect(registry.get("host-a")).toBe(a);
    const down = registry.get("host-down");
    await down.execute(boom).catch(() => {});
    registry.get("host-b");
    expect(registry.size).toBe(3);
    await clock.advance(1_500);
    registry.get("host-c"); // triggers a sweep
    expect([...registry.keys()].sort()).toEqual(["host-c", "host-down"]);
    expect(registry.get("host-down")).toBe(down);
  });
});

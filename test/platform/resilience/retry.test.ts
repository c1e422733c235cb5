import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  constantBackoff,
  decorrelatedJitterBackoff,
  exponentialBackoff,
  fullJitterBackoff,
  parseRetryAfter,
  RateLimitedError,
  RetryBudget,
  type RetryEvent,
  retry,
} from "../../../src/platform/resilience/index.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";
import { flush, track } from "./helpers.ts";

function failing(times: number, error: () => unknown = () => new Error("flaky")) {
  let calls = 0;
  const fn = async () => {
    calls++;
    if (calls <= times) throw error();
    return `ok after ${calls}`;
  };
  return { fn, calls: () => calls };
}

describe("retry", () => {
  it("retries until success, handing the attempt number to the callee", async () => {
    const attempts: number[] = [];
    const policy = retry({ maxAttempts: 4, backoff: constantBackoff(0), clock: new FakeClock() });
    const value = await policy.execute(async (ctx) => {
      attempts.push(ctx.attempt);
      if (ctx.attempt < 3) throw new Error("flaky");
      return "done";
    });
    expect(value).toBe("done");
    expect(attempts).toEqual([1, 2, 3]);
    expect(policy.retries).toBe(2);
  });

  it("gives up after maxAttempts with the last error", async () => {
    const { fn, calls } = failing(10);
    const policy = retry({ maxAttempts: 3, backoff: constantBackoff(0), clock: new FakeClock() });
    await expect(policy.execute(fn)).rejects.toThrow("flaky");
    expect(calls()).toBe(3);
    expect(policy.failures).toBe(1);
  });

  it("does not retry what the classifier rejects", async () => {
    const { fn, calls } = failing(10, () => Object.assign(new Error("bad request"), { status: 400 }));
    const policy = retry({
      maxAttempts: 5,
      backoff: constantBackoff(0),
      retryOn: (e) => (e as { status?: number }).status !== 400,
      clock: new FakeClock(),
    });
    await expect(policy.execute(fn)).rejects.toThrow("bad request");
    expect(calls()).toBe(1);
  });

  it("waits the backoff on the clock, and at least what Retry-After asks", async () => {
    const clock = new FakeClock();
    const policy = retry({ maxAttempts: 3, backoff: constantBackoff(100), clock });
    const events: RetryEvent[] = [];
    policy.onRetry.add((e) => events.push(e));
    const { fn, calls } = failing(2, () =>
      Object.assign(new Error("busy"), { headers: { "retry-after": "2" } }),
    );
    const result = track(policy.execute(fn));
    await flush();
    expect(calls()).toBe(1);
    await clock.advance(1_999);
    expect(calls()).toBe(1);
    await clock.advance(1);
    expect(calls()).toBe(2);
    await clock.advance(2_000);
    await flush();
    expect(result.value).toBe("ok after 3");
    expect(events.map((e) => e.delayMs)).toEqual([2_000, 2_000]);
  });

  it("takes Retry-After from Bulwark's own errors", async () => {
    const clock = new FakeClock();
    const policy = retry({ maxAttempts: 2, backoff: constantBackoff(0), retryOn: () => true, clock });
    const { fn, calls } = failing(1, () => new RateLimitedError("k", 700));
    const result = track(policy.execute(fn));
    await clock.advance(699);
    expect(calls()).toBe(1);
    await clock.advance(1);
    await flush();
    expect(result.value).toBe("ok after 2");
  });

  it("stops when the next wait would pass the total deadline", async () => {
    const clock = new FakeClock();
    const policy = retry({ maxAttempts: 10, backoff: constantBackoff(300), deadlineMs: 1_000, clock });
    const { fn, calls } = failing(100);
    const result = track(policy.execute(fn));
    await clock.advance(5_000);
    await flush();
    expect(result.error).toBeInstanceOf(Error);
    // Attempts at 0, 300, 600 and 900 ms; a fifth would start at 1 200 ms, past the deadline.
    expect(calls()).toBe(4);
  });

  it("stops retrying once the caller aborts", async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const policy = retry({ maxAttempts: 10, backoff: constantBackoff(100), clock });
    const { fn, calls } = failing(100);
    const result = track(policy.execute(fn, { signal: controller.signal }));
    await clock.advance(150);
    controller.abort(new Error("caller gone"));
    await clock.advance(1_000);
    await flush();
    expect(calls()).toBe(2);
    expect(result.settled).toBe(true);
  });
});

describe("retry budget", () => {
  it("caps retries at ratio × calls plus the floor, however many calls fail", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 2, max: 5 }),
        async (calls, ratioPct, maxAttempts) => {
          const clock = new FakeClock();
          const ratio = ratioPct / 100;
          const budget = new RetryBudget({ ratio, minPerSecond: 1, windowMs: 10_000, clock });
          const policy = retry({ maxAttempts, backoff: constantBackoff(0), budget, clock });
          let attempts = 0;
          for (let i = 0; i < calls; i++) {
            await policy
              .execute(() => {
                attempts++;
                throw new Error("down");
              })
              .catch(() => {});
          }
          const retries = attempts - calls;
          // Floor: 1 per second over a 10 s window = 10 retries.
          expect(retries).toBeLessThanOrEqual(ratio * calls + 10);
          expect(retries).toBe(policy.retries);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("refills as the window slides", async () => {
    const clock = new FakeClock();
    const budget = new RetryBudget({ ratio: 0, minPerSecond: 1, windowMs: 1_000, clock });
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    await clock.advance(1_100);
    expect(budget.tryRetry()).toBe(true);
  });
});

describe("backoff", () => {
  const random = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
  const params = fc.record({
    initialMs: fc.integer({ min: 1, max: 1_000 }),
    factor: fc.double({ min: 1, max: 4, noNaN: true }),
    capMs: fc.integer({ min: 1, max: 60_000 }),
  });

  it("full jitter stays within [0, min(cap, initial·factor^(n−1)))", () => {
    fc.assert(
      fc.property(params, fc.integer({ min: 1, max: 40 }), random, (p, n, r) => {
        const d = fullJitterBackoff(p).delay(n, 0, () => r);
        const ceiling = Math.min(p.capMs, p.initialMs * p.factor ** (n - 1));
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(ceiling);
        if (ceiling > 0 && r < 1) expect(d).toBeLessThan(ceiling + 1e-9);
      }),
    );
  });

  it("decorrelated jitter stays within [initial, min(cap, 3·previous)]", () => {
    fc.assert(
      fc.property(params, fc.integer({ min: 0, max: 100_000 }), random, (p, prev, r) => {
        const d = decorrelatedJitterBackoff(p).delay(2, prev, () => r);
        expect(d).toBeGreaterThanOrEqual(Math.min(p.initialMs, p.capMs));
        expect(d).toBeLessThanOrEqual(Math.min(p.capMs, Math.max(p.initialMs, prev * 3)));
      }),
    );
  });

  it("exponential grows by the factor and stops at the cap", () => {
    const b = exponentialBackoff({ initialMs: 100, factor: 2, capMs: 1_000 });
    expect([1, 2, 3, 4, 5, 6].map((n) => b.delay(n, 0, Math.random))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
  });

  it("parses Retry-After seconds and HTTP dates", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
  });
});

import { describe, expect, it } from "vitest";
import { isTimeoutError, TimerWheel, timeout } from "../../../src/platform/resilience/index.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";
import { deferred, flush, track } from "./helpers.ts";

describe("timeout", () => {
  it("aborts the callee's signal at the deadline; a callee honouring it rejects with the TimeoutError", async () => {
    const clock = new FakeClock();
    const policy = timeout(100, { clock, name: "payments" });
    let signal: AbortSignal | undefined;
    const result = track(
      policy.execute(
        (ctx) =>
          new Promise((_, reject) => {
            signal = ctx.signal;
            ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
          }),
      ),
    );
    await clock.advance(99);
    expect(result.settled).toBe(false);
    expect(signal?.aborted).toBe(false);
    await clock.advance(20);
    await flush();
    expect(result.settled).toBe(true);
    expect(isTimeoutError(result.error)).toBe(true);
    expect((result.error as { code: string }).code).toBe("BWK_ERR_RESILIENCE_TIMEOUT");
    expect(signal?.aborted).toBe(true);
    expect(policy.timeouts).toBe(1);
  });

  it("passes a cooperative callee's own outcome through, as cockatiel and Polly do", async () => {
    const clock = new FakeClock();
    const policy = timeout(10, { clock });
    const result = track(
      policy.execute(
        (ctx) =>
          new Promise((_, reject) =>
            ctx.signal.addEventListener("abort", () => reject(new Error("client aborted"))),
          ),
      ),
    );
    await clock.advance(30);
    await flush();
    expect((result.error as Error).message).toBe("client aborted");
    expect(policy.timeouts).toBe(1);
  });

  it("rejects at the deadline even if the callee ignores its signal (aggressive)", async () => {
    const clock = new FakeClock();
    const policy = timeout(50, { clock, strategy: "aggressive" });
    const never = deferred<number>();
    const result = track(policy.execute(() => never.promise));
    await clock.advance(70);
    await flush();
    expect(isTimeoutError(result.error)).toBe(true);
  });

  it("never fires before the requested time, whatever the tick", async () => {
    const clock = new FakeClock(1_000);
    const wheel = new TimerWheel(clock, 10);
    for (const ms of [1, 9, 10, 11, 25, 333]) {
      const policy = timeout(ms, { clock, wheel });
      const startedAt = clock.monotonic();
      let firedAt = -1;
      const p = policy.execute(
        (ctx) =>
          new Promise((_, reject) =>
            ctx.signal.addEventListener("abort", () => {
              firedAt = clock.monotonic();
              reject(ctx.signal.reason);
            }),
          ),
      );
      p.catch(() => {});
      await clock.advance(3); // start between ticks
      await clock.advance(ms + 40);
      expect(firedAt - startedAt).toBeGreaterThanOrEqual(ms);
      expect(firedAt - startedAt).toBeLessThanOrEqual(ms + 3 * wheel.tickMs);
    }
  });

  it("costs no AbortController and no abort on success", async () => {
    const clock = new FakeClock();
    const policy = timeout(100, { clock });
    let seen: unknown;
    const value = await policy.execute((ctx) => {
      seen = ctx;
      return 42;
    });
    expect(value).toBe(42);
    await clock.advance(500);
    expect(policy.timeouts).toBe(0);
    // The signal was never read, so it is created now, and it was never aborted.
    expect((seen as { signal: AbortSignal }).signal.aborted).toBe(false);
  });

  it("hands a child call what is left of the parent's deadline", async () => {
    const clock = new FakeClock();
    const outer = timeout(100, { clock });
    const inner = timeout(1_000, { clock });
    let innerDeadline = 0;
    let outerDeadline = 0;
    const p = outer.execute(async (ctx) => {
      outerDeadline = ctx.deadline;
      await clock.sleep(60);
      return inner.execute((child) => {
        innerDeadline = child.deadline;
        return new Promise((_, reject) =>
          child.signal.addEventListener("abort", () => reject(child.signal.reason)),
        );
      }, ctx);
    });
    const result = track(p);
    await clock.advance(59);
    await clock.advance(2);
    // Deadlines are coarse (the wheel's tick) but never earlier than asked.
    expect(outerDeadline).toBeGreaterThanOrEqual(100);
    expect(innerDeadline).toBeGreaterThanOrEqual(100);
    expect(innerDeadline).toBeLessThanOrEqual(100 + 3 * TimerWheel.of(clock).tickMs);
    await clock.advance(60);
    await flush();
    // The outer deadline (100 ms) aborted the inner call long before its own 1 s.
    expect(result.settled).toBe(true);
    expect(isTimeoutError(result.error)).toBe(true);
  });

  it("rejects at once when the inherited deadline has already passed", async () => {
    const clock = new FakeClock(500);
    const policy = timeout(100, { clock });
    let called = false;
    const err = await policy
      .execute(
        () => {
          called = true;
        },
        { deadline: 400 },
      )
      .catch((e) => e);
    expect(isTimeoutError(err)).toBe(true);
    expect(called).toBe(false);
  });

  it("keeps the pending list short when calls never yield to the event loop", async () => {
    const clock = new FakeClock();
    const wheel = new TimerWheel(clock);
    const policy = timeout(1_000, { clock, wheel });
    for (let i = 0; i < 20_000; i++) await policy.execute(() => i);
    expect(wheel.size).toBeLessThan(4_200);
  });
});

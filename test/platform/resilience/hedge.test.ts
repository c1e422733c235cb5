import { describe, expect, it } from "vitest";
import { hedge } from "../../../src/platform/resilience/index.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";
import { deferred, flush, track } from "./helpers.ts";

describe("hedge", () => {
  it("starts a second attempt after the delay; the first answer wins and the loser is aborted", async () => {
    const clock = new FakeClock();
    const policy = hedge({ delayMs: 50, clock });
    const gates = [deferred<string>(), deferred<string>()];
    const signals: AbortSignal[] = [];
    const result = track(
      policy.execute((ctx) => {
        signals.push(ctx.signal);
        return gates[ctx.attempt - 1]!.promise;
      }),
    );
    await clock.advance(40);
    expect(signals.length).toBe(1);
    await clock.advance(20);
    expect(signals.length).toBe(2);
    gates[1]!.resolve("from hedge");
    await flush();
    expect(result.value).toBe("from hedge");
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[1]!.aborted).toBe(false);
    expect(policy.hedges).toBe(1);
  });

  it("sends no hedge when the first attempt answers in time", async () => {
    const clock = new FakeClock();
    const policy = hedge({ delayMs: 50, clock });
    let attempts = 0;
    expect(await policy.execute(() => ++attempts)).toBe(1);
    await clock.advance(200);
    expect(attempts).toBe(1);
  });

  it("rejects only when every launched attempt failed", async () => {
    const clock = new FakeClock();
    const policy = hedge({ delayMs: 10, clock });
    const gates = [deferred<string>(), deferred<string>()];
    const result = track(policy.execute((ctx) => gates[ctx.attempt - 1]!.promise));
    await clock.advance(20);
    gates[0]!.reject(new Error("first failed"));
    await flush();
    expect(result.settled).toBe(false);
    gates[1]!.reject(new Error("second failed"));
    await flush();
    expect((result.error as Error).message).toBe("second failed");
  });
});

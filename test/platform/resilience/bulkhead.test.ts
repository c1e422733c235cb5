import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AimdLimit,
  bulkhead,
  isBulkheadRejectedError,
  TimeoutError,
  timeout,
  wrap,
} from "../../../src/platform/resilience/index.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";
import { deferred, flush, track } from "./helpers.ts";

describe("bulkhead", () => {
  it("never runs more than maxConcurrent calls, and never queues more than maxQueue", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 6 }),
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 50 }), ms: fc.integer({ min: 1, max: 40 }) }), {
          minLength: 1,
          maxLength: 40,
        }),
        async (maxConcurrent, maxQueue, calls) => {
          const clock = new FakeClock();
          const policy = bulkhead(maxConcurrent, { maxQueue, clock });
          let running = 0;
          let peak = 0;
          let peakQueue = 0;
          const outcomes: Promise<unknown>[] = [];
          for (const c of [...calls].sort((a, b) => a.at - b.at)) {
            await clock.advance(c.at - clock.now());
            outcomes.push(
              policy
                .execute(async () => {
                  running++;
                  peak = Math.max(peak, running);
                  await clock.sleep(c.ms);
                  running--;
                })
                .catch((e) => e),
            );
            peakQueue = Math.max(peakQueue, policy.queued);
          }
          await clock.runAll();
          const results = await Promise.all(outcomes);
          expect(peak).toBeLessThanOrEqual(maxConcurrent);
          expect(peakQueue).toBeLessThanOrEqual(maxQueue);
          const rejected = results.filter(isBulkheadRejectedError).length;
          expect(rejected).toBe(policy.rejections);
          expect(policy.active).toBe(0);
          expect(policy.queued).toBe(0);
        },
      ),
      { numRuns: 80 },
    );
  });

  it("rejects at once when full, with a stable code", async () => {
    const gate = deferred();
    const policy = bulkhead(1, { name: "core-banking" });
    const first = policy.execute(() => gate.promise);
    const err = await policy.execute(() => 1).catch((e) => e);
    expect(isBulkheadRejectedError(err)).toBe(true);
    expect(err.code).toBe("BWK_ERR_RESILIENCE_BULKHEAD_FULL");
    gate.resolve();
    await first;
    expect(await policy.execute(() => 2)).toBe(2);
  });

  it("lets a queued call wait for a slot, but not past the queue timeout", async () => {
    const clock = new FakeClock();
    const policy = bulkhead(1, { maxQueue: 2, queueTimeoutMs: 100, clock });
    const gate = deferred<string>();
    const first = track(policy.execute(() => gate.promise));
    const second = track(policy.execute(() => "second"));
    await clock.advance(50);
    const third = track(policy.execute(() => "third"));
    expect(policy.queued).toBe(2);
    await clock.advance(60); // the second has waited 110 ms, the third 60 ms
    await flush();
    expect((second.error as { code: string }).code).toBe("BWK_ERR_RESILIENCE_QUEUE_TIMEOUT");
    expect(third.settled).toBe(false);
    gate.resolve("first");
    await flush();
    expect(first.value).toBe("first");
    expect(third.value).toBe("third");
  });

  it("drops a queued call whose deadline passes while it waits (timeout outside bulkhead)", async () => {
    const clock = new FakeClock();
    const inner = bulkhead(1, { maxQueue: 5, clock });
    const stack = wrap(timeout(100, { clock }), inner);
    const gate = deferred();
    const first = stack.execute(() => gate.promise).catch((e) => e);
    const queued = track(stack.execute(() => "never runs"));
    await clock.advance(120);
    await flush();
    expect(queued.error).toBeInstanceOf(TimeoutError);
    expect(inner.queued).toBe(0);
    gate.resolve();
    await first;
  });

  it("one slow dependency cannot take another's slots", async () => {
    const slowDep = bulkhead(2);
    const fastDep = bulkhead(2);
    const gate = deferred();
    const stuck = [slowDep.execute(() => gate.promise), slowDep.execute(() => gate.promise)];
    expect(await slowDep.execute(() => 1).catch((e) => e.code)).toBe("BWK_ERR_RESILIENCE_BULKHEAD_FULL");
    expect(await fastDep.execute(() => "still served")).toBe("still served");
    gate.resolve();
    await Promise.all(stuck);
  });
});

describe("adaptive (AIMD) limit", () => {
  it("shrinks multiplicatively on drops and grows by one when busy", () => {
    const aimd = new AimdLimit({ initial: 20, min: 2, max: 40, backoffRatio: 0.5 }, 40);
    aimd.update(20, 5, new TimeoutError("x", 1), true);
    expect(aimd.limit).toBe(10);
    aimd.update(10, 5, undefined, false);
    expect(aimd.limit).toBe(11);
    aimd.update(1, 5, undefined, false); // mostly idle: no growth
    expect(aimd.limit).toBe(11);
    for (let i = 0; i < 10; i++) aimd.update(1, 5, new TimeoutError("x", 1), true);
    expect(aimd.limit).toBe(2);
  });

  it("drives the bulkhead's limit from latency", async () => {
    const clock = new FakeClock();
    const policy = bulkhead(10, {
      adaptive: { initial: 10, latencyThresholdMs: 100, backoffRatio: 0.5 },
      clock,
    });
    const slow = policy.execute(() => clock.sleep(200));
    await clock.advance(210);
    await slow;
    expect(policy.limit).toBe(5);
  });
});

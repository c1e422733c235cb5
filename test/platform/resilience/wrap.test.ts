import { describe, expect, it } from "vitest";
import {
  bulkhead,
  circuitBreaker,
  constantBackoff,
  fallback,
  hedge,
  noop,
  type Policy,
  retry,
  timeout,
  wrap,
} from "../../../src/platform/resilience/index.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";
import { deferred, flush, track } from "./helpers.ts";

/** A policy written against the public interface only, as a chaos fault would be. */
function recording(label: string, log: string[]): Policy {
  return {
    async execute(fn, options) {
      log.push(`${label}:in`);
      try {
        return await fn(options as never);
      } finally {
        log.push(`${label}:out`);
      }
    },
  };
}

describe("wrap", () => {
  it("runs policies outermost first, foreign ones included, and flattens nested wraps", async () => {
    const log: string[] = [];
    const inner = wrap(recording("b", log), noop);
    const stack = wrap(recording("a", log), inner, recording("c", log));
    expect(stack.stages.length).toBe(4);
    const value = await stack.execute(() => {
      log.push("call");
      return 7;
    });
    expect(value).toBe(7);
    expect(log).toEqual(["a:in", "b:in", "c:in", "call", "c:out", "b:out", "a:out"]);
  });

  it("retries around the breaker and stops when the breaker opens", async () => {
    const clock = new FakeClock();
    const breaker = circuitBreaker({ window: { kind: "consecutive", threshold: 2 }, clock });
    const stack = wrap(
      retry({ maxAttempts: 5, backoff: constantBackoff(0), clock }),
      breaker,
      timeout(100, { clock }),
    );
    let calls = 0;
    const err = await stack
      .execute(() => {
        calls++;
        throw new Error("down");
      })
      .catch((e) => e);
    expect(calls).toBe(2);
    expect(err.code).toBe("BWK_ERR_RESILIENCE_CIRCUIT_OPEN");
  });

  it("hands the callee a signal and the attempt through every layer", async () => {
    const clock = new FakeClock();
    const stack = wrap(
      retry({ maxAttempts: 2, backoff: constantBackoff(0), clock }),
      timeout(100, { clock }),
      bulkhead(1),
    );
    const seen: Array<[number, boolean]> = [];
    const value = await stack.execute((ctx) => {
      seen.push([ctx.attempt, ctx.signal.aborted]);
      if (ctx.attempt === 1) throw new Error("once");
      return "second time";
    });
    expect(value).toBe("second time");
    expect(seen).toEqual([
      [1, false],
      [2, false],
    ]);
  });

  it("aborts a losing hedge's callee through the timeout below it, long before that timeout", async () => {
    const clock = new FakeClock();
    // Two timeouts: the outer one's attempt never reads its signal, and still passes the abort on.
    const stack = wrap(hedge({ delayMs: 50, clock }), timeout(10_000, { clock }), timeout(10_000, { clock }));
    const gates = [deferred<string>(), deferred<string>()];
    const signals: AbortSignal[] = [];
    const result = track(
      stack.execute((ctx) => {
        signals.push(ctx.signal);
        return gates[ctx.attempt - 1]!.promise;
      }),
    );
    await clock.advance(60);
    expect(signals).toHaveLength(2);
    gates[1]!.resolve("from hedge");
    await flush();
    expect(result.value).toBe("from hedge");
    // The callee's signal is the timeout's attempt, a child of the hedge's losing attempt.
    expect(signals.map((s) => s.aborted)).toEqual([true, false]);
  });

  it("answers from a fallback when the stack fails", async () => {
    const stack = wrap(
      fallback(() => "stale quote", { when: (e) => (e as Error).message === "down" }),
      retry({ maxAttempts: 1 }),
    );
    expect(await stack.execute(() => Promise.reject(new Error("down")))).toBe("stale quote");
    await expect(stack.execute(() => Promise.reject(new Error("other")))).rejects.toThrow("other");
  });

  it("aborts the callee when the caller's signal aborts", async () => {
    const controller = new AbortController();
    const stack = wrap(timeout(10_000, { clock: new FakeClock() }));
    const p = stack.execute(
      (ctx) =>
        new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))),
      { signal: controller.signal },
    );
    controller.abort(new Error("client went away"));
    await expect(p).rejects.toThrow("client went away");
  });
});

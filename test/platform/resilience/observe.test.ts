import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { observe } from "../../../src/platform/resilience/observe.ts";

interface Deferred {
  promise: Promise<number>;
  resolve(v: number): void;
  reject(e: unknown): void;
  settled: "ok" | "err" | undefined;
}

function deferred(): Deferred {
  const d = { settled: undefined } as Deferred;
  d.promise = new Promise<number>((resolve, reject) => {
    d.resolve = resolve;
    d.reject = reject;
  });
  d.promise.catch(() => {});
  return d;
}

const flush = () => new Promise<void>((r) => setImmediate(r));

describe("observe (one reaction for every observer of a promise)", () => {
  it("calls every observer exactly once, with its own argument and the right outcome, in registration order", async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("observe" as const), p: fc.nat(4) }),
      fc.record({ kind: fc.constant("settle" as const), p: fc.nat(4), ok: fc.boolean() }),
      fc.record({ kind: fc.constant("tick" as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const promises = Array.from({ length: 5 }, deferred);
        const calls: Array<{ id: number; outcome: string }> = [];
        const expected: Array<{ id: number; p: number }> = [];
        let nextId = 0;
        for (const o of ops) {
          if (o.kind === "observe") {
            const id = nextId++;
            expected.push({ id, p: o.p });
            observe(
              promises[o.p]!.promise,
              (arg: number) => calls.push({ id: arg, outcome: "ok" }),
              (arg: number, e) => calls.push({ id: arg, outcome: `err:${String(e)}` }),
              id,
            );
          } else if (o.kind === "settle") {
            const d = promises[o.p]!;
            if (d.settled) continue;
            d.settled = o.ok ? "ok" : "err";
            if (o.ok) d.resolve(1);
            else d.reject("boom");
          } else await flush();
        }
        for (const d of promises) {
          if (!d.settled) {
            d.settled = "ok";
            d.resolve(1);
          }
        }
        await flush();
        expect(calls.map((c) => c.id).sort((a, b) => a - b)).toEqual(expected.map((e) => e.id));
        for (const { id, p } of expected) {
          const call = calls.find((c) => c.id === id)!;
          expect(call.outcome).toBe(promises[p]!.settled === "ok" ? "ok" : "err:boom");
        }
        // Per promise, observers run in the order they were registered.
        for (let p = 0; p < promises.length; p++) {
          const ids = calls.filter((c) => expected.find((e) => e.id === c.id)!.p === p).map((c) => c.id);
          expect(ids).toEqual([...ids].sort((a, b) => a - b));
        }
      }),
      { numRuns: 200 },
    );
  });

  it("keeps an observer added after the promise settled (it gets its own reaction)", async () => {
    const seen: string[] = [];
    const p = Promise.resolve(7);
    observe(
      p,
      () => seen.push("first"),
      () => seen.push("first-err"),
      0,
    );
    await flush();
    observe(
      p,
      () => seen.push("late"),
      () => seen.push("late-err"),
      0,
    );
    await flush();
    expect(seen).toEqual(["first", "late"]);
  });
});

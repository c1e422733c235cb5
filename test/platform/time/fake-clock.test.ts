import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../src/platform/time/index.ts";

describe("FakeClock", () => {
  it("fires timers in due order and only when time reaches them", async () => {
    const clock = new FakeClock(1_000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push("b"), 20);
    clock.setTimeout(() => fired.push("a"), 10);
    const cancelled = clock.setTimeout(() => fired.push("x"), 15);
    cancelled.cancel();
    await clock.advance(9);
    expect(fired).toEqual([]);
    await clock.advance(11);
    expect(fired).toEqual(["a", "b"]);
    expect(clock.now()).toBe(1_020);
  });

  it("sleep resolves after advance and rejects on abort", async () => {
    const clock = new FakeClock();
    let done = false;
    const p = clock.sleep(50).then(() => {
      done = true;
    });
    await clock.advance(49);
    expect(done).toBe(false);
    await clock.advance(1);
    await p;
    expect(done).toBe(true);

    const ac = new AbortController();
    const aborted = clock.sleep(50, ac.signal);
    ac.abort(new Error("stop"));
    await expect(aborted).rejects.toThrow("stop");
    expect(clock.pending).toBe(0);
  });
});

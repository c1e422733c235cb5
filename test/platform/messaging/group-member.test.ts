import { describe, expect, it } from "vitest";
import { GroupMember } from "../../../src/platform/messaging/group-member.ts";
import type { LeaseStore } from "../../../src/platform/messaging/index.ts";
import { MemoryLeaseStore } from "../../../src/platform/messaging/memory/memory-leases.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";

/** A lease store that can be cut off, as a crashed or partitioned member would be. */
function severable(inner: LeaseStore) {
  const state = { cut: false };
  const guard = <T>(fn: () => Promise<T>) =>
    state.cut ? Promise.reject(new Error("lease store unreachable")) : fn();
  const store: LeaseStore = {
    tryAcquire: (...a) => guard(() => inner.tryAcquire(...a)),
    release: (...a) => guard(() => inner.release(...a)),
    holders: (...a) => guard(() => inner.holders(...a)),
  };
  return { store, state };
}

function member(name: string, leases: LeaseStore, clock: FakeClock, events: string[]) {
  return new GroupMember({
    leases,
    scope: "topic.group",
    member: name,
    partitions: 4,
    clock,
    leaseTtlMs: 1_000,
    heartbeatMs: 100,
    onAssigned: (p) => events.push(`${name}+${p}`),
    onRevoked: async (p) => {
      events.push(`${name}-${p}`);
    },
    onError: () => {},
  });
}

describe("group membership over leases", () => {
  it("splits partitions, and after a member goes silent the survivor takes over only once its leases expired", async () => {
    const clock = new FakeClock(1_000_000);
    const shared = new MemoryLeaseStore(clock);
    const silent = severable(shared);
    const events: string[] = [];
    const a = member("a", silent.store, clock, events);
    const b = member("b", shared, clock, events);
    a.start();
    b.start();
    await clock.advance(300);
    expect(a.owned()).toEqual([0, 2]);
    expect(b.owned()).toEqual([1, 3]);

    silent.state.cut = true;
    await clock.advance(500);
    // a's leases are still valid: b must not touch partitions 0 and 2 yet, and a keeps working them.
    expect(b.owned()).toEqual([1, 3]);
    expect(a.owned()).toEqual([0, 2]);

    await clock.advance(1_000);
    // A whole lease period without renewal: a fences itself, b takes everything.
    expect(a.owned()).toEqual([]);
    expect(b.owned()).toEqual([0, 1, 2, 3]);
    expect(events).toContain("a-0");
    expect(events.indexOf("a-0")).toBeLessThan(events.indexOf("b+0"));
    await b.stop();
    expect(await shared.holders("topic.group", "m.")).toEqual([]);
  });
});

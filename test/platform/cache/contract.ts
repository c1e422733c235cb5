import fc from "fast-check";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { Cache } from "../../../src/platform/cache/index.ts";
import { eventually } from "../../support/services.ts";

/** One adapter under test: how to build a cache on it, and how to let time pass for its TTLs. */
export interface CacheAdapterUnderTest {
  name: string;
  make(namespace: string, options?: { registry?: Registry; defaultTtlMs?: number }): Cache;
  /** Moves the adapter's clock on (a FakeClock), or resolves at once when time is real. */
  advance(ms: number): void;
}

function gate<T>(): { promise: Promise<T>; open(value: T): void; fail(err: Error): void } {
  let open!: (value: T) => void;
  let fail!: (err: Error) => void;
  const promise = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

async function counter(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  const sample = metric?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return sample?.value ?? 0;
}

/** The behaviour every cache adapter must have, run against each one (and each against its real backend). */
export function cacheContract(adapter: CacheAdapterUnderTest, unique: (p: string) => string): void {
  describe(`cache contract: ${adapter.name}`, () => {
    it("stores JSON values, answers undefined on a miss, and keeps null", async () => {
      const cache = adapter.make(unique("rt"));
      expect(await cache.get("absent")).toBeUndefined();
      await cache.set("a", { price: 1.5, tags: ["x"], when: new Date(0) });
      expect(await cache.get("a")).toEqual({ price: 1.5, tags: ["x"], when: "1970-01-01T00:00:00.000Z" });
      await cache.set("n", null);
      expect(await cache.get("n")).toBeNull();
      await expect(cache.set("u", undefined)).rejects.toThrow(/no JSON form/);
    });

    it("expires an entry after its TTL", async () => {
      const cache = adapter.make(unique("ttl"));
      await cache.set("short", 1, { ttlMs: 80 });
      await cache.set("long", 2, { ttlMs: 60_000 });
      expect(await cache.get("short")).toBe(1);
      adapter.advance(100);
      await eventually(async () => (await cache.get("short")) === undefined, { message: "short to expire" });
      expect(await cache.get("long")).toBe(2);
    });

    it("deletes one key, a prefix, or a tag, and counts what it removed", async () => {
      const cache = adapter.make(unique("del"));
      await cache.set("sym:AAPL:latest", 1, { tags: ["AAPL"] });
      await cache.set("sym:AAPL:windows:1", 2, { tags: ["AAPL"] });
      await cache.set("sym:MSFT:latest", 3, { tags: ["MSFT"] });
      await cache.set("top:1000", 4, { tags: ["AAPL", "MSFT"] });
      await cache.set("sym*odd", 5);
      expect(await cache.delete("sym:MSFT:latest")).toBe(true);
      expect(await cache.delete("sym:MSFT:latest")).toBe(false);
      expect(await cache.deleteByPrefix("sym:AAPL:")).toBe(2);
      expect(await cache.get("sym:AAPL:latest")).toBeUndefined();
      expect(await cache.get("sym*odd")).toBe(5); // glob characters in keys are literal
      expect(await cache.deleteByTag("MSFT")).toBe(1);
      expect(await cache.get("top:1000")).toBeUndefined();
      expect(await cache.deleteByTag("MSFT")).toBe(0);
    });

    it("deletes several tags at once, counting an entry that carries two of them once", async () => {
      const cache = adapter.make(unique("tags"));
      await cache.set("a", 1, { tags: ["t1"] });
      await cache.set("ab", 2, { tags: ["t1", "t2"] });
      await cache.set("c", 3, { tags: ["t3"] });
      expect(await cache.deleteByTags(["t1", "t2", "absent"])).toBe(2);
      expect(await cache.get("a")).toBeUndefined();
      expect(await cache.get("ab")).toBeUndefined();
      expect(await cache.get("c")).toBe(3);
      expect(await cache.deleteByTags([])).toBe(0);
    });

    it("keeps namespaces apart", async () => {
      const ns = unique("ns");
      const a = adapter.make(`${ns}a`);
      const b = adapter.make(`${ns}b`);
      await a.set("k", "a");
      await b.set("k", "b");
      await a.deleteByPrefix("");
      expect(await a.get("k")).toBeUndefined();
      expect(await b.get("k")).toBe("b");
    });

    it("single-flight: 50 concurrent misses of one key run one load, then reads hit", async () => {
      const registry = new Registry();
      const cache = adapter.make(unique("sf"), { registry });
      const loaded = gate<{ v: number }>();
      let loads = 0;
      const load = () => {
        loads++;
        return loaded.promise;
      };
      const readers = Array.from({ length: 50 }, () => cache.getOrLoad("k", load));
      // Every reader is parked on the one load before it finishes.
      await eventually(async () => (await counter(registry, "cache_coalesced_total", {})) === 49, {
        message: "49 readers to join the load",
      });
      loaded.open({ v: 7 });
      expect(await Promise.all(readers)).toEqual(Array.from({ length: 50 }, () => ({ v: 7 })));
      expect(loads).toBe(1);
      expect(await cache.getOrLoad("k", load)).toEqual({ v: 7 });
      expect(loads).toBe(1);
      expect(await counter(registry, "cache_requests_total", { result: "hit" })).toBe(1);
      expect(await counter(registry, "cache_requests_total", { result: "miss" })).toBe(50);
    });

    it("a failed load reaches every waiter and is not cached", async () => {
      const cache = adapter.make(unique("err"));
      const loaded = gate<number>();
      let loads = 0;
      const load = () => {
        loads++;
        return loaded.promise;
      };
      const readers = [cache.getOrLoad("k", load), cache.getOrLoad("k", load)];
      await eventually(() => loads === 1);
      await Promise.resolve();
      loaded.fail(new Error("source down"));
      for (const r of readers) await expect(r).rejects.toThrow("source down");
      expect(await cache.getOrLoad("k", async () => 3)).toBe(3);
    });

    it("a load overtaken by an invalidation is returned but not stored", async () => {
      const cache = adapter.make(unique("race"));
      const loaded = gate<string>();
      let loading = false;
      const reader = cache.getOrLoad(
        "sym:AAPL",
        () => {
          loading = true;
          return loaded.promise;
        },
        { tags: ["AAPL"] },
      );
      await eventually(() => loading, { message: "the load to start" });
      await cache.deleteByTag("AAPL");
      loaded.open("before the window closed");
      expect(await reader).toBe("before the window closed");
      expect(await cache.get("sym:AAPL")).toBeUndefined();
      expect(await cache.getOrLoad("sym:AAPL", async () => "fresh")).toBe("fresh");
    });

    it("behaves like a map under any sequence of writes and invalidations (fast-check)", async () => {
      const keys = fc.constantFrom("a:1", "a:2", "b:1", "b:2", "c");
      const tags = fc.subarray(["t1", "t2", "t3"]);
      const op = fc.oneof(
        fc.record({ kind: fc.constant("set" as const), key: keys, value: fc.integer(), tags }),
        fc.record({ kind: fc.constant("delete" as const), key: keys }),
        fc.record({ kind: fc.constant("prefix" as const), prefix: fc.constantFrom("a:", "b:", "c", "") }),
        fc.record({ kind: fc.constant("tag" as const), tag: fc.constantFrom("t1", "t2", "t3") }),
        fc.record({ kind: fc.constant("tags" as const), tags }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
          const cache = adapter.make(unique("prop"), { defaultTtlMs: 60_000 });
          const model = new Map<string, { value: number; tags: string[] }>();
          for (const o of ops) {
            if (o.kind === "set") {
              await cache.set(o.key, o.value, { tags: o.tags });
              model.set(o.key, { value: o.value, tags: o.tags });
            } else if (o.kind === "delete") {
              expect(await cache.delete(o.key)).toBe(model.delete(o.key));
            } else if (o.kind === "prefix") {
              const gone = [...model.keys()].filter((k) => k.startsWith(o.prefix));
              for (const k of gone) model.delete(k);
              expect(await cache.deleteByPrefix(o.prefix)).toBe(gone.length);
            } else if (o.kind === "tag") {
              const gone = [...model].filter(([, e]) => e.tags.includes(o.tag)).map(([k]) => k);
              for (const k of gone) model.delete(k);
              expect(await cache.deleteByTag(o.tag)).toBe(gone.length);
            } else {
              const gone = [...model]
                .filter(([, e]) => e.tags.some((t) => o.tags.includes(t)))
                .map(([k]) => k);
              for (const k of gone) model.delete(k);
              expect(await cache.deleteByTags(o.tags)).toBe(gone.length);
            }
          }
          for (const k of ["a:1", "a:2", "b:1", "b:2", "c"]) {
            expect(await cache.get(k)).toBe(model.get(k)?.value);
          }
        }),
        { numRuns: 40 },
      );
    });
  });
}

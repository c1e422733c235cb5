import { Type } from "@sinclair/typebox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Bus,
  constantBackoff,
  deadLetterTopic,
  defineEvent,
  EventRegistry,
  HEADER,
  isInvalidEventError,
  type Message,
  type SubscribeOptions,
} from "../../../src/platform/messaging/index.ts";
import { eventually, uniqueName } from "../../support/services.ts";

export const Numbered = defineEvent(
  "test.numbered",
  1,
  Type.Object({ key: Type.String(), n: Type.Integer() }),
);
export const registry = () => new EventRegistry().register(Numbered);

/** A backend shared by the buses of one suite run: each open() is one more service instance. */
export interface BusFixture {
  open(options?: { registry?: EventRegistry | null }): Promise<Bus>;
  teardown(): Promise<void>;
}

/** Records what a subscription receives. */
export function collect(
  bus: Bus,
  options: Omit<SubscribeOptions, "handler"> & { handler?: SubscribeOptions["handler"] },
) {
  const received: Message[] = [];
  const subscription = bus.subscribe({
    ...options,
    handler: async (message, context) => {
      let settled = true;
      await options.handler?.(message, {
        signal: context.signal,
        nack: (delayMs) => {
          settled = false;
          context.nack(delayMs);
        },
        deadLetter: (reason) => {
          settled = false;
          context.deadLetter(reason);
        },
      });
      if (settled) received.push(message);
    },
  });
  return { received, subscription };
}

export function topicName(prefix = "t"): string {
  return uniqueName(prefix).replace(/[^A-Za-z0-9_-]/g, "_");
}

/** The one contract every adapter passes. */
export function busContract(name: string, setup: () => Promise<BusFixture>, skip = false): void {
  describe.skipIf(skip)(`bus contract: ${name}`, () => {
    let fixture: BusFixture;
    let bus: Bus;
    beforeAll(async () => {
      fixture = await setup();
      bus = await fixture.open();
    });
    afterAll(async () => {
      await bus?.close();
      await fixture?.teardown();
    });

    it("keeps order per key and delivers every message", async () => {
      const topic = topicName();
      await bus.declareTopic({ name: topic, partitions: 4 });
      const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
      const items = Array.from({ length: 300 }, (_, i) => {
        const key = keys[i % keys.length]!;
        return { topic, key, event: Numbered.create({ key, n: i }) };
      });
      for (let i = 0; i < items.length; i += 50) await bus.publishBatch(items.slice(i, i + 50));
      const { received, subscription } = collect(bus, { topic, group: "g" });
      await eventually(() => received.length >= items.length, { message: "all messages", timeoutMs: 20_000 });
      await subscription.stop();
      expect(received).toHaveLength(items.length);
      for (const key of keys) {
        const ns = received.filter((m) => m.key === key).map((m) => (m.payload as { n: number }).n);
        expect(ns).toEqual([...ns].sort((a, b) => a - b));
        expect(new Set(received.filter((m) => m.key === key).map((m) => m.partition)).size).toBe(1);
      }
      expect(new Set(received.map((m) => m.partition)).size).toBeGreaterThan(1);
    });

    it("with keyConcurrency, other keys of a partition pass a waiting key, each key still in order", async () => {
      const topic = topicName();
      await bus.declareTopic({ name: topic, partitions: 1 });
      const plan = ["a:0", "a:1", "b:0", "b:1", "b:2", "c:0"];
      await bus.publishBatch(
        plan.map((p, n) => {
          const key = p.split(":")[0]!;
          return { topic, key, event: Numbered.create({ key, n }) };
        }),
      );
      let releaseA: () => void = () => {};
      const bDone = new Promise<void>((resolve) => {
        releaseA = resolve;
      });
      let inFlight = 0;
      let maxInFlight = 0;
      const handledB: number[] = [];
      const { received, subscription } = collect(bus, {
        topic,
        group: "g",
        keyConcurrency: 4,
        backoff: constantBackoff(5),
        handler: async (m, context) => {
          const n = (m.payload as { n: number }).n;
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          try {
            // The first "a" waits for every "b": with one message at a time this would never end.
            if (n === 0) await Promise.race([bDone, new Promise((r) => setTimeout(r, 5_000))]);
            if (n === 3 && m.attempt === 1) context.nack(5);
            if (m.key === "b" && !(n === 3 && m.attempt === 1)) {
              handledB.push(n);
              if (handledB.length === 3) releaseA();
            }
          } finally {
            inFlight--;
          }
        },
      });
      await eventually(() => received.length === plan.length, {
        message: "all delivered",
        timeoutMs: 20_000,
      });
      await subscription.stop();
      const order = (key: string) =>
        received.filter((m) => m.key === key).map((m) => (m.payload as { n: number }).n);
      expect(order("a")).toEqual([0, 1]);
      expect(order("b")).toEqual([2, 3, 4]);
      expect(handledB).toEqual([2, 3, 4]);
      // "b" finished while "a:0" was still waiting for it.
      expect(received.findIndex((m) => m.key === "b" && (m.payload as { n: number }).n === 4)).toBeLessThan(
        received.findIndex((m) => m.key === "a"),
      );
      expect(maxInFlight).toBeGreaterThanOrEqual(2);
    });

    it("redelivers a nacked or failed message after the backoff, keeping order", async () => {
      const topic = topicName();
      await bus.declareTopic({ name: topic, partitions: 1 });
      const attempts: Array<[number, number]> = [];
      const { received, subscription } = collect(bus, {
        topic,
        group: "g",
        maxAttempts: 5,
        backoff: constantBackoff(20),
        handler: (m, context) => {
          const n = (m.payload as { n: number }).n;
          attempts.push([n, m.attempt]);
          if (n === 1 && m.attempt < 3) throw new Error("transient");
          if (n === 2 && m.attempt === 1) context.nack(10);
        },
      });
      for (let n = 0; n < 4; n++) await bus.publish(topic, "same", Numbered.create({ key: "same", n }));
      await eventually(() => received.length === 4, { message: "4 acked", timeoutMs: 20_000 });
      await subscription.stop();
      expect(received.map((m) => (m.payload as { n: number }).n)).toEqual([0, 1, 2, 3]);
      expect(attempts).toEqual([
        [0, 1],
        [1, 1],
        [1, 2],
        [1, 3],
        [2, 1],
        [2, 2],
        [3, 1],
      ]);
    });

    it("dead-letters after maxAttempts, and a schema-invalid event at once, while others keep flowing", async () => {
      const topic = topicName();
      const producer = await fixture.open({ registry: null });
      await bus.declareTopic({ name: topic, partitions: 2 });
      const { received, subscription } = collect(bus, {
        topic,
        group: "g",
        maxAttempts: 3,
        backoff: constantBackoff(5),
        handler: (m) => {
          if (m.key === "poison") throw new Error(`cannot handle ${m.id}`);
        },
      });
      const dead = collect(bus, { topic: deadLetterTopic(topic), group: "inspect" });
      await producer.publish(topic, "poison", Numbered.create({ key: "poison", n: 0 }));
      await producer.publish(topic, "bad-schema", {
        type: Numbered.type,
        version: 1,
        payload: { key: 5, n: 1 },
      });
      await producer.publish(topic, "unknown", { type: "nobody.knows", version: 9, payload: {} });
      for (let n = 1; n <= 20; n++)
        await producer.publish(topic, `ok${n}`, Numbered.create({ key: `ok${n}`, n }));
      await eventually(() => received.length === 20 && dead.received.length === 3, {
        message: "20 acked and 3 dead",
        timeoutMs: 20_000,
      });
      await Promise.all([subscription.stop(), dead.subscription.stop()]);
      await producer.close();
      const byKey = new Map(dead.received.map((m) => [m.key, m]));
      const poison = byKey.get("poison")!;
      expect(poison.headers[HEADER.dlqReason]).toContain("3 attempts");
      expect(poison.headers[HEADER.dlqError]).toContain("cannot handle");
      expect(poison.headers[HEADER.dlqAttempts]).toBe("3");
      expect(poison.headers[HEADER.dlqSourceTopic]).toBe(topic);
      expect(byKey.get("bad-schema")!.headers[HEADER.dlqReason]).toMatch(/^schema: \/key/);
      expect(byKey.get("bad-schema")!.payload).toEqual({ key: 5, n: 1 });
      expect(byKey.get("unknown")!.headers[HEADER.dlqReason]).toContain("no schema registered");
      expect(received.every((m) => m.key.startsWith("ok"))).toBe(true);
    });

    it("rejects a schema-invalid event on publish", async () => {
      const topic = topicName();
      await bus.declareTopic({ name: topic, partitions: 1 });
      const error = await bus
        .publish(topic, "k", { type: Numbered.type, version: 1, payload: { key: "k", n: "one" } })
        .catch((e: unknown) => e);
      expect(isInvalidEventError(error)).toBe(true);
      expect(await bus.lag(topic, "g")).toBe(0);
    });

    it("splits partitions between two members, and the survivor takes over when one stops", async () => {
      const topic = topicName();
      const other = await fixture.open();
      await bus.declareTopic({ name: topic, partitions: 4 });
      const a = collect(bus, { topic, group: "shared", member: "a" });
      const b = collect(other, { topic, group: "shared", member: "b" });
      await eventually(
        () => a.subscription.assigned().length === 2 && b.subscription.assigned().length === 2,
        {
          message: "2 + 2 partitions",
          timeoutMs: 20_000,
        },
      );
      expect([...a.subscription.assigned(), ...b.subscription.assigned()].sort()).toEqual([0, 1, 2, 3]);
      const batch = (from: number) =>
        Array.from({ length: 40 }, (_, i) => ({
          topic,
          key: `key${i}`,
          event: Numbered.create({ key: `key${i}`, n: from + i }),
        }));
      await bus.publishBatch(batch(0));
      await eventually(() => a.received.length + b.received.length === 40, {
        message: "40 split",
        timeoutMs: 20_000,
      });
      expect(a.received.length).toBeGreaterThan(0);
      expect(b.received.length).toBeGreaterThan(0);
      await a.subscription.stop();
      await eventually(() => b.subscription.assigned().length === 4, {
        message: "b takes all",
        timeoutMs: 20_000,
      });
      await bus.publishBatch(batch(100));
      await eventually(() => b.received.length + a.received.length === 80, {
        message: "80 total",
        timeoutMs: 20_000,
      });
      await b.subscription.stop();
      await other.close();
      const ns = [...a.received, ...b.received].map((m) => (m.payload as { n: number }).n);
      expect(new Set(ns).size).toBe(80);
    });

    it("replays a group from an offset, and reports lag", async () => {
      const topic = topicName();
      await bus.declareTopic({ name: topic, partitions: 1 });
      for (let n = 0; n < 10; n++) await bus.publish(topic, "k", Numbered.create({ key: "k", n }));
      expect(await bus.lag(topic, "replay")).toBe(10);
      const first = collect(bus, { topic, group: "replay" });
      await eventually(() => first.received.length === 10, { message: "10 received", timeoutMs: 20_000 });
      await first.subscription.stop();
      expect(await bus.lag(topic, "replay")).toBe(0);
      const fifth = first.received[4]!;
      await bus.resetGroup(topic, "replay", { offset: fifth.offset });
      expect(await bus.lag(topic, "replay")).toBe(6);
      const again = collect(bus, { topic, group: "replay" });
      await eventually(() => again.received.length === 6, { message: "6 replayed", timeoutMs: 20_000 });
      await again.subscription.stop();
      expect(again.received.map((m) => (m.payload as { n: number }).n)).toEqual([4, 5, 6, 7, 8, 9]);
      expect(again.received[0]!.id).toBe(fifth.id);
    });

    it("replays a group from a time", async () => {
      if (!bus.capabilities.replayByTime) return;
      const topic = topicName();
      await bus.declareTopic({ name: topic, partitions: 2 });
      for (let n = 0; n < 3; n++) await bus.publish(topic, `k${n}`, Numbered.create({ key: `k${n}`, n }));
      const first = collect(bus, { topic, group: "byTime" });
      await eventually(() => first.received.length === 3, { message: "3 received", timeoutMs: 20_000 });
      await first.subscription.stop();
      // Brokers stamp their own receive time, so cut well after the first batch was stored and before the next.
      await eventually(() => Date.now() > Math.max(...first.received.map((m) => m.publishedAt)) + 20);
      const cut = Date.now();
      await eventually(() => Date.now() > cut + 20, { message: "clock past the cut" });
      for (let n = 3; n < 6; n++) await bus.publish(topic, `k${n}`, Numbered.create({ key: `k${n}`, n }));
      await bus.resetGroup(topic, "byTime", { time: cut });
      const again = collect(bus, { topic, group: "byTime" });
      await eventually(() => again.received.length >= 3, { message: "3 replayed", timeoutMs: 20_000 });
      await again.subscription.stop();
      expect(again.received.map((m) => (m.payload as { n: number }).n).sort()).toEqual([3, 4, 5]);
    });
  });
}

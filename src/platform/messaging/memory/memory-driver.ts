import { type Clock, systemClock } from "../../time/index.ts";
import {
  type LogDriver,
  type LogRecord,
  oneReadAtATime,
  type PartitionReader,
  type StoredMessage,
} from "../driver.ts";
import { MessagingError } from "../errors.ts";
import type { BusCapabilities, GroupPosition, TopicSpec } from "../types.ts";
import { MemoryLeaseStore } from "./memory-leases.ts";

interface MemoryTopic {
  partitions: StoredMessage[][];
  waiters: Array<Set<() => void>>;
  lastOffset: number;
}

/**
 * A process-local log, for unit tests only: nothing survives the process. Several buses built on one
 * driver behave like several service instances on one broker.
 */
export class MemoryLogDriver implements LogDriver {
  readonly capabilities: BusCapabilities = {
    durable: false,
    distributed: false,
    brokerDedupe: false,
    replayByTime: true,
  };
  readonly leases: MemoryLeaseStore;
  readonly #topics = new Map<string, MemoryTopic>();
  /** Per `${topic}/${group}`: the committed offset of each partition (0 = nothing yet). */
  readonly #committed = new Map<string, number[]>();

  constructor({ clock = systemClock }: { clock?: Clock } = {}) {
    this.leases = new MemoryLeaseStore(clock);
  }

  async declareTopic(spec: TopicSpec): Promise<void> {
    if (this.#topics.has(spec.name)) return;
    this.#topics.set(spec.name, {
      partitions: Array.from({ length: spec.partitions }, () => []),
      waiters: Array.from({ length: spec.partitions }, () => new Set()),
      lastOffset: 0,
    });
  }

  async partitionCount(topic: string): Promise<number> {
    return this.#topic(topic).partitions.length;
  }

  async append(topic: string, records: readonly LogRecord[]): Promise<void> {
    const t = this.#topic(topic);
    const touched = new Set<number>();
    for (const record of records) {
      t.partitions[record.partition]!.push({ ...record, offset: ++t.lastOffset });
      touched.add(record.partition);
    }
    for (const p of touched) {
      const waiters = [...t.waiters[p]!];
      t.waiters[p]!.clear();
      for (const wake of waiters) wake();
    }
  }

  async openReader(topic: string, group: string, partition: number): Promise<PartitionReader> {
    const t = this.#topic(topic);
    const committed = this.#cursor(topic, group, t);
    const log = t.partitions[partition]!;
    let position = firstAfter(log, committed[partition]!);
    let closed = false;
    let wakeUp: (() => void) | undefined;
    return oneReadAtATime({
      next: async (max) => {
        while (!closed && position >= log.length) {
          await new Promise<void>((resolve) => {
            wakeUp = resolve;
            t.waiters[partition]!.add(resolve);
          });
        }
        if (closed) return [];
        const batch = log.slice(position, position + max);
        position += batch.length;
        return batch;
      },
      commit: async (offset) => {
        committed[partition] = Math.max(committed[partition]!, offset);
      },
      close: async () => {
        closed = true;
        if (wakeUp) {
          t.waiters[partition]!.delete(wakeUp);
          wakeUp();
        }
      },
    });
  }

  async lag(topic: string, group: string): Promise<number> {
    const t = this.#topic(topic);
    const committed = this.#cursor(topic, group, t);
    return t.partitions.reduce((sum, log, p) => sum + log.length - firstAfter(log, committed[p]!), 0);
  }

  async resetGroup(topic: string, group: string, position: GroupPosition): Promise<void> {
    const t = this.#topic(topic);
    const committed = this.#cursor(topic, group, t);
    t.partitions.forEach((log, p) => {
      if ("offset" in position) committed[p] = position.offset - 1;
      else if ("earliest" in position) committed[p] = 0;
      else if ("latest" in position) committed[p] = t.lastOffset;
      else {
        const first = log.find((m) => m.publishedAt >= position.time);
        committed[p] = first ? first.offset - 1 : t.lastOffset;
      }
    });
  }

  async close(): Promise<void> {}

  #topic(name: string): MemoryTopic {
    const t = this.#topics.get(name);
    if (!t) throw new MessagingError("BWK_ERR_MESSAGING_UNKNOWN_TOPIC", `topic ${name} is not declared`);
    return t;
  }

  #cursor(topic: string, group: string, t: MemoryTopic): number[] {
    const key = `${topic}/${group}`;
    let committed = this.#committed.get(key);
    if (!committed) {
      committed = t.partitions.map(() => 0);
      this.#committed.set(key, committed);
    }
    return committed;
  }
}

/** Index of the first message with an offset above `offset` (offsets grow along a partition). */
function firstAfter(log: readonly StoredMessage[], offset: number): number {
  let lo = 0;
  let hi = log.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (log[mid]!.offset <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

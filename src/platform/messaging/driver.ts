import { MessagingError } from "./errors.ts";
import type { BusCapabilities, GroupPosition, Headers, TopicSpec } from "./types.ts";

/** One message as a log stores it; `data` is the JSON text of the payload. */
export interface LogRecord {
  id: string;
  partition: number;
  key: string;
  type: string;
  version: number;
  headers: Headers;
  data: string;
  publishedAt: number;
}

export interface StoredMessage extends LogRecord {
  offset: number;
  /** True when the driver decoded the payload already (into `payload`); `data` is then unused. */
  parsed?: boolean;
  payload?: unknown;
}

/** A cursor over one partition for one group. Commits are cumulative: everything up to `offset` is done. */
export interface PartitionReader {
  /**
   * Up to `max` messages after the last ones returned; waits briefly for new ones, then resolves []. One call
   * at a time: a call made while another is pending rejects (BWK_ERR_MESSAGING_READ_IN_PROGRESS), since the
   * messages go to the call that is pending. A caller that stops waiting for one (a race with a timer)
   * keeps its promise and awaits it next, as the messages in it are handed out once.
   */
  next(max: number): Promise<StoredMessage[]>;
  commit(offset: number): Promise<void>;
  /** Ends a pending next() with [] and frees the cursor; uncommitted messages go to the next owner. */
  close(): Promise<void>;
}

/**
 * The reader with next() refused while a call is pending. Without it a second call took over the first's
 * wake-up: the first then never settled, or woke to a buffer the second had emptied, and the messages it
 * held were lost to a caller that had given up on it (the analytics bench's raw-log anchor hung or crashed so).
 */
export function oneReadAtATime(reader: PartitionReader): PartitionReader {
  let pending = false;
  return {
    next: async (max) => {
      if (pending) {
        throw new MessagingError(
          "BWK_ERR_MESSAGING_READ_IN_PROGRESS",
          "next() called while an earlier next() on this reader is still pending; await that one instead",
        );
      }
      pending = true;
      try {
        return await reader.next(max);
      } finally {
        pending = false;
      }
    },
    commit: (offset) => reader.commit(offset),
    close: () => reader.close(),
  };
}

/**
 * Leases with expiry, for group membership and partition ownership. `tryAcquire` succeeds when the lease is
 * free, expired or already held by `owner`, atomically (compare-and-set in the backend).
 */
export interface LeaseStore {
  tryAcquire(scope: string, name: string, owner: string, ttlMs: number): Promise<boolean>;
  release(scope: string, name: string, owner: string): Promise<void>;
  /** Owners of the live leases whose name starts with `prefix`. */
  holders(scope: string, prefix: string): Promise<string[]>;
}

/**
 * What an adapter implements: a partitioned log with group cursors, plus leases. The bus core does the rest
 * (validation, partitioning, retries, dead letters, membership, tracing, metrics) once for every adapter.
 */
export interface LogDriver {
  readonly capabilities: BusCapabilities;
  readonly leases: LeaseStore;
  declareTopic(spec: TopicSpec): Promise<void>;
  /** Throws BWK_ERR_MESSAGING_UNKNOWN_TOPIC for an undeclared topic. */
  partitionCount(topic: string): Promise<number>;
  append(topic: string, records: readonly LogRecord[]): Promise<void>;
  openReader(topic: string, group: string, partition: number): Promise<PartitionReader>;
  lag(topic: string, group: string): Promise<number>;
  resetGroup(topic: string, group: string, position: GroupPosition): Promise<void>;
  close(): Promise<void>;
}

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
  /** Up to `max` messages after the last ones returned; waits briefly for new ones, then resolves []. */
  next(max: number): Promise<StoredMessage[]>;
  commit(offset: number): Promise<void>;
  /** Ends a pending next() with [] and frees the cursor; uncommitted messages go to the next owner. */
  close(): Promise<void>;
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

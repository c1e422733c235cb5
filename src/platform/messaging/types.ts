/** Message headers: string to string, as NATS and W3C trace context carry them. */
export type Headers = Record<string, string>;

/** A typed, versioned domain event as the publisher hands it over. */
export interface EventInput<P = unknown> {
  type: string;
  version: number;
  payload: P;
}

/** A delivered message. `offset` grows along a topic (a JetStream stream sequence, or a log row id). */
export interface Message<P = unknown> {
  id: string;
  topic: string;
  partition: number;
  offset: number;
  key: string;
  type: string;
  version: number;
  headers: Headers;
  payload: P;
  /** Epoch milliseconds at publish. */
  publishedAt: number;
  /** 1 on the first delivery to this consumer, then counts redeliveries. */
  attempt: number;
}

export interface TopicSpec {
  /** Letters, digits, `_` and `-`. */
  name: string;
  partitions: number;
  retention?: { maxAgeMs?: number };
}

export interface PublishItem {
  topic: string;
  /** Ordering key: messages with one key land in one partition, in publish order. */
  key: string;
  event: EventInput;
  headers?: Headers;
  /** Message ID used for broker-side dedupe; generated when absent. The outbox passes its own. */
  id?: string;
}

export interface PublishReceipt {
  id: string;
  topic: string;
  partition: number;
}

/** What a handler can decide besides returning (ack) or throwing (nack with backoff). */
export interface DeliveryContext {
  /** Asks for redelivery after `delayMs` (default: the subscription's backoff), without an error. */
  nack(delayMs?: number): void;
  /** Sends the message to the dead-letter topic at once, with this reason. */
  deadLetter(reason: string): void;
  /** Aborted when the subscription stops or loses the partition. */
  readonly signal: AbortSignal;
}

export type Handler = (message: Message, context: DeliveryContext) => void | Promise<void>;

/** Delay before redelivery attempt `attempt + 1`, in milliseconds. */
export type Backoff = (attempt: number) => number;

export interface SubscribeOptions {
  topic: string;
  /** Consumer group: members of one group share the partitions; each group sees every message. */
  group: string;
  handler: Handler;
  /** Deliveries before the message goes to the dead-letter topic. Default 5. */
  maxAttempts?: number;
  /** Default: 100 ms doubling per attempt, capped at 30 s. */
  backoff?: Backoff;
  /** Messages fetched and committed together per partition. Default 256. */
  batchSize?: number;
  /**
   * Messages of one partition handled at once, never two of the same key: order per key holds, and a
   * handler waiting on I/O no longer holds up other keys of its partition. Default 1 (strict offset order).
   */
  keyConcurrency?: number;
  /** Check payloads against the registry before the handler. Default: true, except on dead-letter topics. */
  validate?: boolean;
  /** This member's identity in the group. Default: a random id. */
  member?: string;
}

export interface Subscription {
  readonly topic: string;
  readonly group: string;
  readonly member: string;
  /** Partitions this member holds now. */
  assigned(): number[];
  /** Finishes the message in hand, commits, releases the partitions so other members take them over. */
  stop(): Promise<void>;
  /** Resolves when the subscription ends: undefined after stop(), the error when it failed. */
  readonly closed: Promise<Error | undefined>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Where a consumer group resumes after a reset. */
export type GroupPosition = { offset: number } | { time: number } | { earliest: true } | { latest: true };

export interface BusCapabilities {
  /** Messages survive a process restart. */
  readonly durable: boolean;
  /** Members in several processes can share a group. */
  readonly distributed: boolean;
  /** The broker drops a second publish with the same message ID. */
  readonly brokerDedupe: boolean;
  /** resetGroup by time is supported. */
  readonly replayByTime: boolean;
}

export interface Bus {
  readonly capabilities: BusCapabilities;
  /** Creates the topic and its dead-letter topic `<name>-dlq` if missing. Idempotent. */
  declareTopic(spec: TopicSpec): Promise<void>;
  publish(topic: string, key: string, event: EventInput, headers?: Headers): Promise<PublishReceipt>;
  publishBatch(items: readonly PublishItem[]): Promise<PublishReceipt[]>;
  subscribe(options: SubscribeOptions): Subscription;
  /** Messages published but not yet committed by the group, over all partitions. */
  lag(topic: string, group: string): Promise<number>;
  /** Moves the group's position on every partition. Do it while the group has no live member. */
  resetGroup(topic: string, group: string, position: GroupPosition): Promise<void>;
  /** Stops every subscription, then closes what the bus owns. */
  close(): Promise<void>;
}

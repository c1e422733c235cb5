import { randomUUID } from "node:crypto";
import type { Registry } from "prom-client";
import { type Clock, systemClock } from "../time/index.ts";
import { exponentialBackoff } from "./backoff.ts";
import type { LogDriver, LogRecord, StoredMessage } from "./driver.ts";
import { MessagingError } from "./errors.ts";
import type { EventRegistry } from "./event-registry.ts";
import { GroupMember } from "./group-member.ts";
import { HEADER } from "./headers.ts";
import { type MessagingMetrics, messagingMetrics } from "./metrics.ts";
import { assertEventType, assertName, deadLetterTopic, isDeadLetterTopic, partitionOf } from "./naming.ts";
import { PartitionWorker } from "./partition-worker.ts";
import { startSendSpan } from "./tracing.ts";
import type {
  Bus,
  BusCapabilities,
  EventInput,
  GroupPosition,
  Headers,
  PublishItem,
  PublishReceipt,
  SubscribeOptions,
  Subscription,
  TopicSpec,
} from "./types.ts";

export interface BusOptions {
  driver: LogDriver;
  /** When set, events are validated on publish and on consume against their (type, version) schema. */
  registry?: EventRegistry;
  clock?: Clock;
  /** prom-client registry for the published/consumed/dead-lettered counters and the lag gauge. */
  metrics?: Registry;
  /** `messaging.system.name` on spans. Default "bulwark". */
  system?: string;
  /** A member that stops renewing loses its partitions after this long. Default 10 s. */
  leaseTtlMs?: number;
  /** How often members renew leases and rebalance. Default leaseTtlMs / 4. */
  heartbeatMs?: number;
  /** Whether close() closes the driver. Default true. */
  ownsDriver?: boolean;
  /** Background failures (a lease backend down, a reader that failed). Default: console.error. */
  onError?: (error: unknown) => void;
}

/** The bus core, shared by every adapter: adapters only provide a LogDriver. */
export function createBus(options: BusOptions): Bus {
  return new LogBus(options);
}

class LogBus implements Bus {
  readonly capabilities: BusCapabilities;
  readonly #driver: LogDriver;
  readonly #registry: EventRegistry | undefined;
  readonly #clock: Clock;
  readonly #metrics: MessagingMetrics;
  readonly #system: string;
  readonly #leaseTtlMs: number;
  readonly #heartbeatMs: number;
  readonly #ownsDriver: boolean;
  readonly #onError: (error: unknown) => void;
  readonly #partitions = new Map<string, number>();
  readonly #subscriptions = new Set<LogSubscription>();
  #closed = false;
  // IDs are a random per-bus prefix plus a counter: unique across processes, far cheaper than a UUID each.
  readonly #idPrefix = randomUUID();
  #idCounter = 0;

  constructor(o: BusOptions) {
    this.#driver = o.driver;
    this.capabilities = o.driver.capabilities;
    this.#registry = o.registry;
    this.#clock = o.clock ?? systemClock;
    this.#metrics = messagingMetrics(o.metrics);
    this.#system = o.system ?? "bulwark";
    this.#leaseTtlMs = o.leaseTtlMs ?? 10_000;
    this.#heartbeatMs = o.heartbeatMs ?? Math.max(10, Math.floor(this.#leaseTtlMs / 4));
    this.#ownsDriver = o.ownsDriver ?? true;
    this.#onError = o.onError ?? ((error) => console.error("bulwark messaging:", error));
  }

  async declareTopic(spec: TopicSpec): Promise<void> {
    assertName("topic", spec.name);
    if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
      throw new MessagingError(
        "BWK_ERR_MESSAGING_INVALID_NAME",
        `topic ${spec.name}: partitions must be >= 1`,
      );
    }
    await this.#driver.declareTopic(spec);
    await this.#driver.declareTopic({ ...spec, name: deadLetterTopic(spec.name), partitions: 1 });
    this.#partitions.set(spec.name, spec.partitions);
  }

  publish(topic: string, key: string, event: EventInput, headers?: Headers): Promise<PublishReceipt> {
    return this.publishBatch([{ topic, key, event, ...(headers ? { headers } : {}) }]).then((r) => r[0]!);
  }

  async publishBatch(items: readonly PublishItem[]): Promise<PublishReceipt[]> {
    this.#assertOpen();
    const byTopic = new Map<string, LogRecord[]>();
    const receipts: PublishReceipt[] = [];
    const spans = [];
    const now = this.#clock.now();
    for (const item of items) {
      assertEventType(item.event.type, item.event.version);
      this.#registry?.assertValid(item.event);
      const partitions = this.#partitions.get(item.topic) ?? (await this.#partitionCount(item.topic));
      const headers: Headers = { ...item.headers };
      spans.push(startSendSpan(this.#system, item.topic, headers));
      const record: LogRecord = {
        id: item.id ?? this.#nextId(),
        partition: partitionOf(item.key, partitions),
        key: item.key,
        type: item.event.type,
        version: item.event.version,
        headers,
        data: JSON.stringify(item.event.payload),
        publishedAt: now,
      };
      const records = byTopic.get(item.topic);
      if (records) records.push(record);
      else byTopic.set(item.topic, [record]);
      receipts.push({ id: record.id, topic: item.topic, partition: record.partition });
    }
    try {
      await Promise.all([...byTopic].map(([topic, records]) => this.#driver.append(topic, records)));
    } finally {
      for (const span of spans) span.end();
    }
    for (const [topic, records] of byTopic) this.#metrics.published(topic, records.length);
    return receipts;
  }

  subscribe(options: SubscribeOptions): Subscription {
    this.#assertOpen();
    assertName("topic", options.topic);
    assertName("group", options.group);
    const member = options.member ?? randomUUID().slice(0, 8);
    assertName("member", member);
    const subscription = new LogSubscription(this, options, member);
    this.#subscriptions.add(subscription);
    subscription.closed.then(() => this.#subscriptions.delete(subscription));
    return subscription;
  }

  lag(topic: string, group: string): Promise<number> {
    return this.#driver.lag(topic, group);
  }

  resetGroup(topic: string, group: string, position: GroupPosition): Promise<void> {
    return this.#driver.resetGroup(topic, group, position);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((s) => s.stop()));
    if (this.#ownsDriver) await this.#driver.close();
  }

  /** Internals the subscriptions use. */
  get internals() {
    return {
      driver: this.#driver,
      registry: this.#registry,
      clock: this.#clock,
      metrics: this.#metrics,
      system: this.#system,
      leaseTtlMs: this.#leaseTtlMs,
      heartbeatMs: this.#heartbeatMs,
      onError: this.#onError,
      partitionCount: (topic: string) => this.#partitionCount(topic),
    };
  }

  #nextId(): string {
    return `${this.#idPrefix}-${(++this.#idCounter).toString(36)}`;
  }

  async #partitionCount(topic: string): Promise<number> {
    const known = this.#partitions.get(topic);
    if (known !== undefined) return known;
    const count = await this.#driver.partitionCount(topic);
    this.#partitions.set(topic, count);
    return count;
  }

  #assertOpen(): void {
    if (this.#closed) throw new MessagingError("BWK_ERR_MESSAGING_CLOSED", "the bus is closed");
  }
}

class LogSubscription implements Subscription {
  readonly topic: string;
  readonly group: string;
  readonly member: string;
  readonly closed: Promise<Error | undefined>;
  readonly #bus: LogBus;
  readonly #options: SubscribeOptions;
  readonly #workers = new Map<number, Promise<PartitionWorker | undefined>>();
  readonly #started: Promise<GroupMember | undefined>;
  #resolveClosed!: (error: Error | undefined) => void;
  #stopping: Promise<void> | undefined;
  #unwatchLag: () => void = () => {};

  constructor(bus: LogBus, options: SubscribeOptions, member: string) {
    this.#bus = bus;
    this.#options = options;
    this.topic = options.topic;
    this.group = options.group;
    this.member = member;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#started = this.#start().catch((err) => {
      this.#resolveClosed(err instanceof Error ? err : new Error(String(err)));
      return undefined;
    });
  }

  assigned(): number[] {
    return this.#member?.owned() ?? [];
  }

  #member: GroupMember | undefined;

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const member = await this.#started;
      await member?.stop();
      this.#unwatchLag();
      this.#resolveClosed(undefined);
    })();
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #start(): Promise<GroupMember> {
    const bus = this.#bus.internals;
    const partitions = await bus.partitionCount(this.topic);
    this.#unwatchLag = bus.metrics.watchLag(this.topic, this.group, () =>
      bus.driver.lag(this.topic, this.group),
    );
    const member = new GroupMember({
      leases: bus.driver.leases,
      scope: `${this.topic}.${this.group}`,
      member: this.member,
      partitions,
      clock: bus.clock,
      leaseTtlMs: bus.leaseTtlMs,
      heartbeatMs: bus.heartbeatMs,
      onAssigned: (p) => this.#workers.set(p, this.#startWorker(p)),
      onRevoked: async (p) => {
        const worker = this.#workers.get(p);
        this.#workers.delete(p);
        await (await worker)?.stop();
      },
      onError: bus.onError,
    });
    this.#member = member;
    member.start();
    return member;
  }

  async #startWorker(partition: number): Promise<PartitionWorker | undefined> {
    const bus = this.#bus.internals;
    const o = this.#options;
    try {
      const reader = await bus.driver.openReader(this.topic, this.group, partition);
      const worker = new PartitionWorker(
        {
          system: bus.system,
          topic: this.topic,
          group: this.group,
          partition,
          handler: o.handler,
          maxAttempts: o.maxAttempts ?? 5,
          backoff: o.backoff ?? exponentialBackoff(),
          batchSize: o.batchSize ?? 256,
          keyConcurrency: Math.max(1, Math.floor(o.keyConcurrency ?? 1)),
          clock: bus.clock,
          registry: (o.validate ?? !isDeadLetterTopic(this.topic)) ? bus.registry : undefined,
          deadLetter: (message, reason, error, attempts) =>
            this.#deadLetter(message, reason, error, attempts),
          consumed: (count) => bus.metrics.consumed(this.topic, this.group, count),
        },
        reader,
      );
      worker.done.catch((err) => this.#workerFailed(partition, err));
      return worker;
    } catch (err) {
      await this.#workerFailed(partition, err);
      return undefined;
    }
  }

  async #workerFailed(partition: number, err: unknown): Promise<void> {
    const bus = this.#bus.internals;
    bus.onError(err);
    this.#workers.delete(partition);
    await this.#member?.forget(partition).catch(bus.onError);
  }

  async #deadLetter(message: StoredMessage, reason: string, error: unknown, attempts: number): Promise<void> {
    const bus = this.#bus.internals;
    const headers: Headers = {
      ...message.headers,
      [HEADER.dlqReason]: reason,
      [HEADER.dlqSourceTopic]: this.topic,
      [HEADER.dlqSourceOffset]: String(message.offset),
      [HEADER.dlqAttempts]: String(attempts),
    };
    if (error !== undefined) headers[HEADER.dlqError] = describe(error);
    // The DLQ record keeps a deterministic ID: a redelivered failure is deduped where the broker can.
    await bus.driver.append(deadLetterTopic(this.topic), [
      {
        ...message,
        id: `${message.id}-dlq-${this.group}`,
        partition: 0,
        headers,
        data: message.parsed ? JSON.stringify(message.payload) : message.data,
      },
    ]);
    bus.metrics.deadLettered(this.topic, this.group);
  }
}

function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
}

import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { connect, type NatsConnection, nanos, headers as natsHeaders } from "@nats-io/transport-node";
import { type Clock, systemClock } from "../../time/index.ts";
import { type LogDriver, type LogRecord, oneReadAtATime, type PartitionReader } from "../driver.ts";
import { MessagingError } from "../errors.ts";
import { HEADER } from "../headers.ts";
import type { BusCapabilities, GroupPosition, TopicSpec } from "../types.ts";
import { JetStreamLeaseStore } from "./jetstream-leases.ts";
import { JetStreamPartitionReader } from "./jetstream-reader.ts";
import { JetStreamNames } from "./names.ts";

export interface JetStreamDriverOptions {
  /** An open connection (not closed by the driver), or servers to connect to (closed by close()). */
  connection?: NatsConnection;
  servers?: string | string[];
  /** Prefix of every stream and subject this driver creates. */
  namespace: string;
  clock?: Clock;
  /** Unacked messages are redelivered after this long. Default 30 s. */
  ackWaitMs?: number;
  /** Messages each partition consumer keeps in flight. Default 1024. */
  prefetch?: number;
}

const NOT_FOUND = JetStreamApiCodes.ConsumerNotFound;
const STREAM_NOT_FOUND = JetStreamApiCodes.StreamNotFound;

/**
 * NATS JetStream: one stream per topic with subjects `<ns>.<topic>.p.<n>`, one durable pull consumer per
 * (group, partition) filtered to its subject, cumulative acks, and Nats-Msg-Id for broker-side dedupe.
 */
export async function jetStreamDriver(options: JetStreamDriverOptions): Promise<JetStreamDriver> {
  const owned = !options.connection;
  // noAsyncTraces: the client otherwise captures a stack per async publish, halving throughput.
  const nc =
    options.connection ??
    (await connect({ servers: options.servers ?? "127.0.0.1:4222", noAsyncTraces: true }));
  const jsm = await jetstreamManager(nc);
  return new JetStreamDriver(nc, owned, jetstream(nc), jsm, options);
}

export class JetStreamDriver implements LogDriver {
  readonly capabilities: BusCapabilities = {
    durable: true,
    distributed: true,
    brokerDedupe: true,
    replayByTime: true,
  };
  readonly leases: JetStreamLeaseStore;
  readonly names: JetStreamNames;
  readonly #nc: NatsConnection;
  readonly #owned: boolean;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #ackWaitMs: number;
  readonly #prefetch: number;

  constructor(
    nc: NatsConnection,
    owned: boolean,
    js: JetStreamClient,
    jsm: JetStreamManager,
    options: JetStreamDriverOptions,
  ) {
    this.#nc = nc;
    this.#owned = owned;
    this.#js = js;
    this.#jsm = jsm;
    this.names = new JetStreamNames(options.namespace);
    this.#ackWaitMs = options.ackWaitMs ?? 30_000;
    this.#prefetch = options.prefetch ?? 1024;
    this.leases = new JetStreamLeaseStore(js, jsm, this.names, options.clock ?? systemClock);
  }

  get connection(): NatsConnection {
    return this.#nc;
  }

  async declareTopic(spec: TopicSpec): Promise<void> {
    const name = this.names.stream(spec.name);
    const config = {
      name,
      subjects: [this.names.subjects(spec.name)],
      // Server 2.9 has no stream metadata; the description carries the partition count.
      description: `bulwark partitions=${spec.partitions}`,
      ...(spec.retention?.maxAgeMs ? { max_age: nanos(spec.retention.maxAgeMs) } : {}),
    };
    try {
      await this.#jsm.streams.add(config);
    } catch (err) {
      const existing = await this.partitionCount(spec.name).catch(() => Promise.reject(err));
      if (existing !== spec.partitions) {
        throw new MessagingError(
          "BWK_ERR_MESSAGING_INVALID_NAME",
          `topic ${spec.name} exists with ${existing} partitions, not ${spec.partitions}`,
        );
      }
    }
  }

  async partitionCount(topic: string): Promise<number> {
    try {
      const info = await this.#jsm.streams.info(this.names.stream(topic));
      const match = /partitions=(\d+)/.exec(info.config.description ?? "");
      return match ? Number(match[1]) : 1;
    } catch (err) {
      if (apiCode(err) === STREAM_NOT_FOUND) {
        throw new MessagingError("BWK_ERR_MESSAGING_UNKNOWN_TOPIC", `topic ${topic} is not declared`, {
          cause: err,
        });
      }
      throw err;
    }
  }

  async append(topic: string, records: readonly LogRecord[]): Promise<void> {
    // Publishes are pipelined: all in flight at once, then every ack awaited.
    await Promise.all(
      records.map((r) => {
        const h = natsHeaders();
        for (const [k, v] of Object.entries(r.headers)) h.set(k, v);
        h.set(HEADER.meta, `${r.version} ${r.publishedAt} ${r.type} ${r.key}`);
        return this.#js.publish(this.names.subject(topic, r.partition), r.data, { msgID: r.id, headers: h });
      }),
    );
  }

  async openReader(topic: string, group: string, partition: number): Promise<PartitionReader> {
    const stream = this.names.stream(topic);
    const durable = this.names.durable(group, partition);
    await this.#ensureConsumer(topic, group, partition, undefined);
    const info = await this.#jsm.consumers.info(stream, durable);
    if (info.num_ack_pending > 0) {
      // A previous owner left messages delivered but unacked: restart at the ack floor so they come first,
      // now, instead of after ack_wait and behind newer ones.
      const floor = info.ack_floor.stream_seq;
      await this.#recreate(topic, group, partition, floor > 0 ? { offset: floor + 1 } : info.config);
    }
    const consumer = await this.#js.consumers.get(stream, durable);
    const messages = await consumer.consume({ max_messages: this.#prefetch });
    return oneReadAtATime(new JetStreamPartitionReader(messages, partition));
  }

  async lag(topic: string, group: string): Promise<number> {
    const stream = this.names.stream(topic);
    const partitions = await this.partitionCount(topic);
    let lag = 0;
    for (let p = 0; p < partitions; p++) {
      try {
        const info = await this.#jsm.consumers.info(stream, this.names.durable(group, p));
        lag += info.num_pending + info.num_ack_pending;
      } catch (err) {
        if (apiCode(err) !== NOT_FOUND) throw err;
        const subject = this.names.subject(topic, p);
        const info = await this.#jsm.streams.info(stream, { subjects_filter: subject });
        lag += info.state.subjects?.[subject] ?? 0;
      }
    }
    return lag;
  }

  async resetGroup(topic: string, group: string, position: GroupPosition): Promise<void> {
    const partitions = await this.partitionCount(topic);
    for (let p = 0; p < partitions; p++) await this.#recreate(topic, group, p, position);
  }

  async close(): Promise<void> {
    if (this.#owned) await this.#nc.drain();
  }

  /** Deletes every stream of this namespace (tests and benchmarks clean up with it). */
  async deleteNamespace(): Promise<void> {
    const prefix = `${this.names.namespace}_`;
    for await (const name of this.#jsm.streams.names()) {
      if (name.startsWith(prefix)) await this.#jsm.streams.delete(name);
    }
  }

  async #ensureConsumer(
    topic: string,
    group: string,
    partition: number,
    position: GroupPosition | undefined,
  ) {
    const stream = this.names.stream(topic);
    const durable = this.names.durable(group, partition);
    try {
      await this.#jsm.consumers.info(stream, durable);
    } catch (err) {
      if (apiCode(err) !== NOT_FOUND) throw err;
      await this.#jsm.consumers.add(stream, this.#consumerConfig(topic, group, partition, position));
    }
  }

  async #recreate(
    topic: string,
    group: string,
    partition: number,
    position: GroupPosition | Partial<ConsumerConfig>,
  ): Promise<void> {
    const stream = this.names.stream(topic);
    await this.#jsm.consumers.delete(stream, this.names.durable(group, partition)).catch((err: unknown) => {
      if (apiCode(err) !== NOT_FOUND) throw err;
    });
    const config =
      "offset" in position || "time" in position || "earliest" in position || "latest" in position
        ? this.#consumerConfig(topic, group, partition, position as GroupPosition)
        : position;
    await this.#jsm.consumers.add(stream, config);
  }

  #consumerConfig(
    topic: string,
    group: string,
    partition: number,
    position: GroupPosition | undefined,
  ): Partial<ConsumerConfig> {
    const start: Partial<ConsumerConfig> =
      !position || "earliest" in position
        ? { deliver_policy: DeliverPolicy.All }
        : "offset" in position
          ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, position.offset) }
          : "time" in position
            ? {
                deliver_policy: DeliverPolicy.StartTime,
                opt_start_time: new Date(position.time).toISOString(),
              }
            : { deliver_policy: DeliverPolicy.New };
    return {
      durable_name: this.names.durable(group, partition),
      filter_subject: this.names.subject(topic, partition),
      ack_policy: AckPolicy.All,
      ack_wait: nanos(this.#ackWaitMs),
      max_ack_pending: 65_536,
      ...start,
    };
  }
}

function apiCode(err: unknown): number | undefined {
  return err instanceof JetStreamApiError ? err.code : undefined;
}

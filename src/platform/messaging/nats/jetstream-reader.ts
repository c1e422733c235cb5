import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { PartitionReader, StoredMessage } from "../driver.ts";
import { HEADER } from "../headers.ts";
import type { Headers } from "../types.ts";

const OWN_HEADERS = new Set<string>([
  HEADER.messageId,
  HEADER.type,
  HEADER.version,
  HEADER.key,
  HEADER.publishedAt,
]);

/** Acks are cumulative (AckPolicy.All): one ack per this many messages, or when the partition is drained. */
const ACK_EVERY = 256;

/**
 * A partition cursor on a durable pull consumer. The consumer's `consume()` keeps pulls in flight; acks
 * are deferred and cumulative, so a crash redelivers the unacked tail after ack_wait (or at once to the
 * next owner, which restarts the consumer at its ack floor).
 */
export class JetStreamPartitionReader implements PartitionReader {
  readonly #messages: ConsumerMessages;
  readonly #iterator: AsyncIterator<JsMsg>;
  readonly #partition: number;
  #batch: JsMsg[] = [];
  #unacked: JsMsg | undefined;
  #sinceAck = 0;
  #closed = false;

  constructor(messages: ConsumerMessages, partition: number) {
    this.#messages = messages;
    this.#iterator = messages[Symbol.asyncIterator]();
    this.#partition = partition;
  }

  async next(max: number): Promise<StoredMessage[]> {
    if (this.#closed) return [];
    const first = await this.#iterator.next();
    if (first.done || this.#closed) return [];
    const batch = [first.value];
    while (batch.length < max && this.#messages.getPending() > 0) {
      const more = await this.#iterator.next();
      if (more.done) break;
      batch.push(more.value);
    }
    this.#batch = batch;
    return batch.map((m) => toStored(m, this.#partition));
  }

  async commit(offset: number): Promise<void> {
    const msg = this.#batch.find((m) => m.seq === offset);
    if (!msg) return;
    this.#sinceAck += this.#batch.indexOf(msg) + 1;
    this.#unacked = msg;
    if (this.#sinceAck >= ACK_EVERY || msg.info.pending === 0 || this.#messages.getPending() === 0)
      this.#flush();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#flush();
    // No await of closed(): it settles only once the iterator is drained, which the worker may be awaiting.
    this.#messages.stop();
  }

  #flush(): void {
    this.#unacked?.ack();
    this.#unacked = undefined;
    this.#sinceAck = 0;
  }
}

function toStored(m: JsMsg, partition: number): StoredMessage {
  const h = m.headers;
  const headers: Headers = {};
  if (h) {
    for (const k of h.keys()) if (!OWN_HEADERS.has(k)) headers[k] = h.get(k);
  }
  return {
    id: h?.get(HEADER.messageId) ?? `${m.info.stream}:${m.seq}`,
    partition,
    offset: m.seq,
    key: h?.get(HEADER.key) ?? "",
    type: h?.get(HEADER.type) ?? "",
    version: Number(h?.get(HEADER.version) ?? 0),
    publishedAt: Number(h?.get(HEADER.publishedAt) ?? 0),
    headers,
    data: m.string(),
  };
}

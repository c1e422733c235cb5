import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { PartitionReader, StoredMessage } from "../driver.ts";
import { HEADER } from "../headers.ts";
import type { Headers } from "../types.ts";

const OWN_HEADERS = new Set<string>([HEADER.messageId, HEADER.meta]);

/** Acks are cumulative (AckPolicy.All): one ack per this many messages, or when the partition is drained. */
const ACK_EVERY = 256;
/** How long next() waits for messages the server reported pending, before it hands out what it has. */
const GATHER_PENDING_MS = 5;
/**
 * At the partition's tail the ack waits this long for later commits to fold into it. Under a trickle every
 * message is the tail, and an ack each costs the server more than the delivery did; the wait only widens
 * what a crash redelivers (as the embedded log's offset interval does), which consumers handle already.
 */
const TAIL_ACK_DELAY_MS = 20;
/** Handed-out messages kept for a commit that comes after later batches: a reader that never commits stays bounded. */
const MAX_UNCOMMITTED = 65_536;

/**
 * A partition cursor on a durable pull consumer. The consumer's `consume()` keeps pulls in flight; acks
 * are deferred and cumulative (sent at the partition's tail or every ACK_EVERY messages), so a crash redelivers the unacked tail after ack_wait (or at once to the
 * next owner, which restarts the consumer at its ack floor).
 */
export class JetStreamPartitionReader implements PartitionReader {
  readonly #messages: ConsumerMessages;
  readonly #partition: number;
  /** Messages the pump received and next() has not handed out yet. */
  #buffer: JsMsg[] = [];
  #wake: (() => void) | undefined;
  /** Messages handed out and not committed yet, oldest first: a commit may name one of an earlier batch. */
  #uncommitted: JsMsg[] = [];
  #unacked: JsMsg | undefined;
  #sinceAck = 0;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** Set when the consumer stream ended under us (consumer deleted, connection closed). */
  #failed: Error | undefined;

  constructor(messages: ConsumerMessages, partition: number) {
    this.#messages = messages;
    this.#partition = partition;
    void this.#pump();
  }

  async next(max: number): Promise<StoredMessage[]> {
    let waited = false;
    while (!this.#closed && !this.#failed && this.#buffer.length === 0) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      waited = true;
    }
    // The pump hands over one message per iteration: let it move the rest of what already arrived, so a
    // batch holds what the server sent together rather than just its first message.
    for (let seen = -1; waited && seen !== this.#buffer.length && this.#buffer.length < max; ) {
      seen = this.#buffer.length;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    // The server says how many messages are still pending after each one it delivers. Those are stored and
    // already on their way when the server split a burst over several writes (it does on a busy machine):
    // wait a little for them, so keys behind a slow one in that burst are in the same batch and can pass it.
    if (waited) {
      const until = performance.now() + GATHER_PENDING_MS;
      while (
        !this.#closed &&
        this.#buffer.length < max &&
        this.#buffer[this.#buffer.length - 1]!.info.pending > 0 &&
        performance.now() < until
      ) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
    if (this.#failed) throw this.#failed;
    if (this.#closed) return [];
    const batch = this.#buffer.length <= max ? this.#buffer : this.#buffer.slice(0, max);
    this.#buffer = batch === this.#buffer ? [] : this.#buffer.slice(max);
    this.#uncommitted = this.#uncommitted.length === 0 ? batch.slice() : this.#uncommitted.concat(batch);
    if (this.#uncommitted.length > MAX_UNCOMMITTED) {
      this.#uncommitted = this.#uncommitted.slice(-MAX_UNCOMMITTED);
    }
    return batch.map((m) => toStored(m, this.#partition));
  }

  /**
   * Acks through `offset`, which may belong to a batch before the one in hand: a consumer that checkpoints
   * in the background commits the checkpoint's offset after it has read on.
   */
  async commit(offset: number): Promise<void> {
    const index = this.#uncommitted.findLastIndex((m) => m.seq === offset);
    if (index < 0) return;
    const msg = this.#uncommitted[index]!;
    this.#uncommitted = this.#uncommitted.slice(index + 1);
    this.#sinceAck += index + 1;
    this.#unacked = msg;
    // Ack every ACK_EVERY, or soon after reaching the tail: not per batch, since acks cost the server.
    if (this.#sinceAck >= ACK_EVERY) this.#flush();
    else if (msg.info.pending === 0)
      this.#ackTimer ??= setTimeout(() => {
        this.#ackTimer = undefined;
        this.#flush();
      }, TAIL_ACK_DELAY_MS);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#flush();
    this.#messages.stop();
    this.#wakeUp();
  }

  /**
   * Drains the consumer's iterator into a buffer, so next() hands out everything already received at once
   * and never blocks on a message that will only come after ack_wait.
   */
  async #pump(): Promise<void> {
    try {
      for await (const m of this.#messages) {
        if (this.#closed) break;
        this.#buffer.push(m);
        this.#wakeUp();
      }
    } catch (err) {
      this.#failed = err instanceof Error ? err : new Error(String(err));
    } finally {
      if (!this.#closed)
        this.#failed ??= new Error(`partition ${this.#partition}: the consumer stopped delivering`);
      this.#closed = true;
      this.#wakeUp();
    }
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #flush(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
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
  const meta = h?.get(HEADER.meta) ?? "";
  const a = meta.indexOf(" ");
  const b = meta.indexOf(" ", a + 1);
  const c = meta.indexOf(" ", b + 1);
  return {
    id: h?.get(HEADER.messageId) || `${m.info.stream}:${m.seq}`,
    partition,
    offset: m.seq,
    version: Number(meta.slice(0, a)),
    publishedAt: Number(meta.slice(a + 1, b)),
    type: meta.slice(b + 1, c),
    key: meta.slice(c + 1),
    headers,
    data: m.string(),
  };
}

import { SpanStatusCode } from "@opentelemetry/api";
import type { Clock } from "../time/index.ts";
import type { PartitionReader, StoredMessage } from "./driver.ts";
import type { EventRegistry } from "./event-registry.ts";
import { HEADER } from "./headers.ts";
import { withProcessSpan } from "./tracing.ts";
import type { Backoff, DeliveryContext, Handler, Message } from "./types.ts";

export interface WorkerSettings {
  system: string;
  topic: string;
  group: string;
  partition: number;
  handler: Handler;
  maxAttempts: number;
  backoff: Backoff;
  batchSize: number;
  keyConcurrency: number;
  clock: Clock;
  registry: EventRegistry | undefined;
  deadLetter(message: StoredMessage, reason: string, error: unknown, attempts: number): Promise<void>;
  consumed(count: number): void;
}

const ACK = { kind: "ack" } as const;

type Outcome =
  | { kind: "ack" }
  | { kind: "retry"; delayMs: number | undefined; error: unknown }
  | { kind: "dead"; reason: string; error: unknown };

/** Where a handler's ctx.nack() / ctx.deadLetter() land for the delivery in hand. */
interface Slot {
  decided: Outcome | undefined;
  readonly context: DeliveryContext;
}

/**
 * Works one partition for one group: messages in offset order, one at a time, so order per key holds
 * (with `keyConcurrency` > 1, several keys at once, each key's messages still in order).
 * A failed message is retried in place after the backoff (the partition waits, as a Kafka consumer does);
 * after maxAttempts, or when it does not decode or validate, it goes to the dead-letter topic and the
 * partition moves on. Commits are cumulative, after each batch: a crash redelivers at most one batch, plus
 * what the driver had not written yet (the embedded log writes a group's offset at most every 20 ms).
 */
export class PartitionWorker {
  readonly #s: WorkerSettings;
  readonly #reader: PartitionReader;
  readonly #abort = new AbortController();
  readonly done: Promise<void>;
  /** Reused per message when messages go one at a time, so a delivery allocates no context. */
  readonly #slot: Slot;
  #deadInBatch = 0;

  constructor(settings: WorkerSettings, reader: PartitionReader) {
    this.#s = settings;
    this.#reader = reader;
    this.#slot = this.#newSlot();
    this.done = this.#run();
  }

  #newSlot(): Slot {
    const slot: Slot = {
      decided: undefined,
      context: {
        nack: (delayMs) => {
          slot.decided = { kind: "retry", delayMs, error: undefined };
        },
        deadLetter: (reason) => {
          slot.decided = { kind: "dead", reason, error: undefined };
        },
        signal: this.#abort.signal,
      },
    };
    return slot;
  }

  /** Lets the message in hand finish, commits what was processed and closes the reader. */
  async stop(): Promise<void> {
    this.#abort.abort(new Error("partition revoked"));
    await this.#reader.close();
    // A worker that failed was already reported through `done`; stopping it is then just cleanup.
    await this.done.catch(() => undefined);
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    try {
      while (!signal.aborted) {
        const batch = await this.#reader.next(this.#s.batchSize);
        const settled =
          this.#s.keyConcurrency > 1 && batch.length > 1
            ? await this.#byKey(batch)
            : await this.#inOrder(batch);
        if (settled > 0) {
          await this.#reader.commit(batch[settled - 1]!.offset);
          this.#s.consumed(settled - this.#deadInBatch);
        }
        this.#deadInBatch = 0;
      }
    } finally {
      await this.#reader.close();
    }
  }

  /** Delivers the batch in offset order; returns how many messages settled before a stop. */
  async #inOrder(batch: readonly StoredMessage[]): Promise<number> {
    const signal = this.#abort.signal;
    let count = 0;
    for (const stored of batch) {
      if (signal.aborted) break;
      const settled = this.#deliver(stored, this.#slot);
      if (settled !== true && !(await settled)) break;
      count++;
    }
    return count;
  }

  /**
   * Delivers the batch as lanes of one key each, up to keyConcurrency lanes at once; returns the length of
   * the settled prefix (what may be committed: a stop can leave later messages settled and earlier ones not,
   * and those later ones are then delivered again, as at-least-once allows).
   */
  async #byKey(batch: readonly StoredMessage[]): Promise<number> {
    const signal = this.#abort.signal;
    const lanes = new Map<string, number[]>();
    for (let i = 0; i < batch.length; i++) {
      const key = batch[i]!.key;
      const lane = lanes.get(key);
      if (lane) lane.push(i);
      else lanes.set(key, [i]);
    }
    const queue = [...lanes.values()];
    const settled = new Uint8Array(batch.length);
    let nextLane = 0;
    const runLanes = async () => {
      const slot = this.#newSlot();
      while (nextLane < queue.length) {
        for (const i of queue[nextLane++]!) {
          if (signal.aborted) return;
          const done = this.#deliver(batch[i]!, slot);
          if (done !== true && !(await done)) return;
          settled[i] = 1;
        }
      }
    };
    const runners = Math.min(this.#s.keyConcurrency, queue.length);
    await Promise.all(Array.from({ length: runners }, runLanes));
    let prefix = 0;
    while (prefix < batch.length && settled[prefix] === 1) prefix++;
    return prefix;
  }

  /**
   * True when the message is settled (acked or dead-lettered); false when the worker stopped first.
   * Synchronous when the handler is: most messages then cost no promise at all.
   */
  #deliver(stored: StoredMessage, slot: Slot): boolean | Promise<boolean> {
    const s = this.#s;
    let payload: unknown;
    try {
      payload = stored.parsed ? stored.payload : JSON.parse(stored.data);
    } catch (err) {
      return this.#deadLetter(stored, "undecodable payload", err, 0).then(() => true);
    }
    const problem = s.registry?.problem(stored.type, stored.version, payload);
    if (problem) return this.#deadLetter(stored, `schema: ${problem}`, undefined, 0).then(() => true);
    const message: Message = {
      id: stored.id,
      topic: s.topic,
      partition: stored.partition,
      offset: stored.offset,
      key: stored.key,
      type: stored.type,
      version: stored.version,
      headers: stored.headers,
      payload,
      publishedAt: stored.publishedAt,
      attempt: 1,
    };
    if (message.headers[HEADER.traceparent])
      return this.#invoke(message, slot).then((o) => this.#settle(stored, message, o, slot));
    slot.decided = undefined;
    let result: void | Promise<void>;
    try {
      result = s.handler(message, slot.context);
    } catch (error) {
      return this.#settle(stored, message, { kind: "retry", delayMs: undefined, error }, slot);
    }
    if (result && typeof result.then === "function") {
      return result.then(
        () => this.#settle(stored, message, slot.decided ?? ACK, slot),
        (error: unknown) => this.#settle(stored, message, { kind: "retry", delayMs: undefined, error }, slot),
      );
    }
    const outcome = slot.decided ?? ACK;
    return outcome.kind === "ack" || this.#settle(stored, message, outcome, slot);
  }

  /** Acts on an outcome: done, dead letter, or redeliver after the backoff until one of those. */
  async #settle(stored: StoredMessage, message: Message, outcome: Outcome, slot: Slot): Promise<boolean> {
    const s = this.#s;
    const signal = this.#abort.signal;
    for (let attempt = message.attempt; ; ) {
      if (outcome.kind === "ack") return true;
      if (outcome.kind === "dead") {
        await this.#deadLetter(stored, outcome.reason, outcome.error, attempt);
        return true;
      }
      if (attempt >= s.maxAttempts) {
        await this.#deadLetter(stored, `failed ${attempt} attempts`, outcome.error, attempt);
        return true;
      }
      try {
        await s.clock.sleep(outcome.delayMs ?? s.backoff(attempt), signal);
      } catch {
        return false;
      }
      if (signal.aborted) return false;
      message.attempt = ++attempt;
      outcome = await this.#invoke(message, slot);
    }
  }

  #deadLetter(stored: StoredMessage, reason: string, error: unknown, attempts: number): Promise<void> {
    this.#deadInBatch++;
    return this.#s.deadLetter(stored, reason, error, attempts);
  }

  #invoke(message: Message, slot: Slot): Promise<Outcome> {
    const s = this.#s;
    const run = async (): Promise<Outcome> => {
      slot.decided = undefined;
      try {
        await s.handler(message, slot.context);
        return slot.decided ?? ACK;
      } catch (error) {
        return { kind: "retry", delayMs: undefined, error };
      }
    };
    // Tracing costs a context extraction per message; skip it when the producer sent no trace context.
    if (!message.headers[HEADER.traceparent]) return run();
    return withProcessSpan(s.system, s.topic, message.headers, async (span) => {
      const outcome = await run();
      if (outcome.kind !== "ack") span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      return outcome;
    });
  }
}

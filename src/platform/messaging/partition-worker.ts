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

/**
 * Works one partition for one group: messages in offset order, one at a time, so order per key holds.
 * A failed message is retried in place after the backoff (the partition waits, as a Kafka consumer does);
 * after maxAttempts, or when it does not decode or validate, it goes to the dead-letter topic and the
 * partition moves on. Commits are cumulative, after each batch: a crash redelivers at most one batch.
 */
export class PartitionWorker {
  readonly #s: WorkerSettings;
  readonly #reader: PartitionReader;
  readonly #abort = new AbortController();
  readonly done: Promise<void>;
  /** One context per worker, reused per message: the worker handles one message at a time. */
  readonly #context: DeliveryContext;
  #decided: Outcome | undefined;
  #deadInBatch = 0;

  constructor(settings: WorkerSettings, reader: PartitionReader) {
    this.#s = settings;
    this.#reader = reader;
    this.#context = {
      nack: (delayMs) => {
        this.#decided = { kind: "retry", delayMs, error: undefined };
      },
      deadLetter: (reason) => {
        this.#decided = { kind: "dead", reason, error: undefined };
      },
      signal: this.#abort.signal,
    };
    this.done = this.#run();
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
        let last = -1;
        let count = 0;
        for (const stored of batch) {
          if (signal.aborted) break;
          const settled = this.#deliver(stored);
          if (settled !== true && !(await settled)) break;
          last = stored.offset;
          count++;
        }
        if (last >= 0) {
          await this.#reader.commit(last);
          this.#s.consumed(count - this.#deadInBatch);
        }
        this.#deadInBatch = 0;
      }
    } finally {
      await this.#reader.close();
    }
  }

  /**
   * True when the message is settled (acked or dead-lettered); false when the worker stopped first.
   * Synchronous when the handler is: most messages then cost no promise at all.
   */
  #deliver(stored: StoredMessage): boolean | Promise<boolean> {
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
      return this.#invoke(message).then((o) => this.#settle(stored, message, o));
    this.#decided = undefined;
    let result: void | Promise<void>;
    try {
      result = s.handler(message, this.#context);
    } catch (error) {
      return this.#settle(stored, message, { kind: "retry", delayMs: undefined, error });
    }
    if (result && typeof result.then === "function") {
      return result.then(
        () => this.#settle(stored, message, this.#decided ?? ACK),
        (error: unknown) => this.#settle(stored, message, { kind: "retry", delayMs: undefined, error }),
      );
    }
    const outcome = this.#decided ?? ACK;
    return outcome.kind === "ack" || this.#settle(stored, message, outcome);
  }

  /** Acts on an outcome: done, dead letter, or redeliver after the backoff until one of those. */
  async #settle(stored: StoredMessage, message: Message, outcome: Outcome): Promise<boolean> {
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
      outcome = await this.#invoke(message);
    }
  }

  #deadLetter(stored: StoredMessage, reason: string, error: unknown, attempts: number): Promise<void> {
    this.#deadInBatch++;
    return this.#s.deadLetter(stored, reason, error, attempts);
  }

  #invoke(message: Message): Promise<Outcome> {
    const s = this.#s;
    const run = async (): Promise<Outcome> => {
      this.#decided = undefined;
      try {
        await s.handler(message, this.#context);
        return this.#decided ?? ACK;
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

import type { Kysely, Transaction } from "kysely";
import type { Bus, EventInput, Outbox } from "../../../platform/messaging/index.ts";

// biome-ignore lint/suspicious/noExplicitAny: units of work span the tables of whichever service runs them.
type AnyTrx = Transaction<any> | Kysely<any>;

/** Collects the events of one unit of work and gets them out, the way the `outbox` switch says. */
export interface PendingEvents {
  emit(trx: AnyTrx, topic: string, key: string, event: EventInput): Promise<void>;
  /** Call after the transaction committed. */
  flush(): Promise<void>;
}

export interface EventsOut {
  begin(): PendingEvents;
}

/**
 * outbox on: the event row commits with the state change, and the relay publishes it (nothing lost).
 * outbox off (the "before" architecture): publish after commit, so a crash in between loses the event.
 */
export function eventsOut(options: {
  outbox: Outbox;
  bus: Bus;
  useOutbox: boolean;
  /**
   * Called after a unit of work with outbox rows committed, with those rows and its transaction (hands the
   * rows to the log's readers, or wakes the relay).
   */
  committed?: (events: ReadonlyArray<{ topic: string; key: string }>, trx: AnyTrx) => void;
}): EventsOut {
  const { outbox, bus, useOutbox } = options;
  return {
    begin() {
      const buffered: Array<{ topic: string; key: string; event: EventInput }> = [];
      const enqueued: Array<{ topic: string; key: string }> = [];
      let unit: AnyTrx | undefined;
      return {
        async emit(trx, topic, key, event) {
          if (useOutbox) {
            unit = trx;
            await outbox.enqueue(trx, { topic, key, event });
            enqueued.push({ topic, key });
          } else buffered.push({ topic, key, event });
        },
        async flush() {
          if (enqueued.length > 0 && unit) options.committed?.(enqueued.splice(0), unit);
          if (buffered.length === 0) return;
          await bus.publishBatch(buffered.splice(0));
        },
      };
    },
  };
}

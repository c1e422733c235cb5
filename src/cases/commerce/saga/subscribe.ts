import type { Transaction } from "kysely";
import type { Bus, EventInput, Inbox, Message, Subscription } from "../../../platform/messaging/index.ts";
import type { GroupCommit } from "../../../platform/storage/index.ts";
import type { EventsOut } from "./events-out.ts";

/** Emits an event inside the unit of work's transaction; it leaves after the commit (outbox switch permitting). */
export type Emit = (topic: string, key: string, event: EventInput) => Promise<void>;

/** A state change and the events it emits, in one transaction. */
// biome-ignore lint/suspicious/noExplicitAny: each service passes its own table types.
export type Effect<T> = (trx: Transaction<any>, emit: Emit) => Promise<T>;

/** Runs `effect` once per message for this group: the effect, its events and the processed record commit together. */
export type Once = <T>(effect: Effect<T>) => Promise<{ duplicate: boolean }>;

// biome-ignore lint/suspicious/noExplicitAny: payloads are validated against their schemas by the bus.
export type EventHandler = (payload: any, once: Once, message: Message) => Promise<void>;

/** Runs `effect` in one transaction (maybe a shared commit), then gets the events it emitted out (work not tied to a message). */
export async function transact<DB, T>(
  units: GroupCommit,
  events: EventsOut,
  effect: (trx: Transaction<DB>, emit: Emit) => Promise<T>,
): Promise<T> {
  const out = events.begin();
  const result = await units.transaction<T, DB>((trx) =>
    effect(trx, (topic, key, event) => out.emit(trx, topic, key, event)),
  );
  await out.flush();
  return result;
}

/** Subscribes a service's group to a topic and routes each event type to its handler; others are acked. */
export function subscribeEvents(
  ctx: { bus: Bus; inbox: Inbox; events: EventsOut; keyConcurrency: number },
  options: { topic: string; group: string; handlers: Record<string, EventHandler>; maxAttempts?: number },
): Subscription {
  return ctx.bus.subscribe({
    topic: options.topic,
    group: options.group,
    maxAttempts: options.maxAttempts ?? 20,
    // Events are keyed by order: different orders of a partition can go through the saga side by side.
    keyConcurrency: ctx.keyConcurrency,
    handler: async (message) => {
      const handler = options.handlers[message.type];
      if (!handler) return;
      const once: Once = async (effect) => {
        const out = ctx.events.begin();
        const result = await ctx.inbox.handleOnce(options.group, message, (trx) =>
          effect(trx, (topic, key, event) => out.emit(trx, topic, key, event)),
        );
        await out.flush();
        return { duplicate: result.duplicate };
      };
      await handler(message.payload, once, message);
    },
  });
}

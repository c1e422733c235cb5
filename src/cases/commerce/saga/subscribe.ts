import type { Transaction } from "kysely";
import type { Bus, Inbox, Message, Subscription } from "../../../platform/messaging/index.ts";

/** Runs `effect` once per message for this group: the effect and the processed record commit together. */
// biome-ignore lint/suspicious/noExplicitAny: each service passes its own table types.
export type Once = <T>(effect: (trx: Transaction<any>) => Promise<T>) => Promise<{ duplicate: boolean }>;

// biome-ignore lint/suspicious/noExplicitAny: payloads are validated against their schemas by the bus.
export type EventHandler = (payload: any, once: Once, message: Message) => Promise<void>;

/** Subscribes a service's group to a topic and routes each event type to its handler; others are acked. */
export function subscribeEvents(
  bus: Bus,
  inbox: Inbox,
  options: { topic: string; group: string; handlers: Record<string, EventHandler>; maxAttempts?: number },
): Subscription {
  return bus.subscribe({
    topic: options.topic,
    group: options.group,
    maxAttempts: options.maxAttempts ?? 20,
    handler: async (message) => {
      const handler = options.handlers[message.type];
      if (!handler) return;
      const once: Once = async (effect) => {
        const result = await inbox.handleOnce(options.group, message, effect);
        return { duplicate: result.duplicate };
      };
      await handler(message.payload, once, message);
    },
  });
}

import { MessagingError } from "./errors.ts";

const NAME = /^[A-Za-z0-9_-]{1,100}$/;

/** Topic and group names become NATS subjects, stream and durable names, and SQL values: keep them plain. */
export function assertName(kind: "topic" | "group" | "member", name: string): void {
  if (!NAME.test(name)) {
    throw new MessagingError(
      "BWK_ERR_MESSAGING_INVALID_NAME",
      `invalid ${kind} name ${JSON.stringify(name)}: use letters, digits, _ and - (max 100)`,
    );
  }
}

/** Event types travel space-separated in one header (see HEADER.meta), so they hold no whitespace. */
export function assertEventType(type: string, version: number): void {
  if (!/^[^\s]{1,200}$/.test(type) || !Number.isInteger(version) || version < 0) {
    throw new MessagingError(
      "BWK_ERR_MESSAGING_INVALID_NAME",
      `invalid event type ${JSON.stringify(type)}@${version}: no whitespace, and an integer version`,
    );
  }
}

export function deadLetterTopic(topic: string): string {
  return `${topic}-dlq`;
}

export function isDeadLetterTopic(topic: string): boolean {
  return topic.endsWith("-dlq");
}

export { partitionOf } from "../partitioning/index.ts";

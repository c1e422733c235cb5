export { constantBackoff, exponentialBackoff } from "./backoff.ts";
export type { LeaseStore, LogDriver, LogRecord, PartitionReader, StoredMessage } from "./driver.ts";
export { oneReadAtATime } from "./driver.ts";
export {
  type EmbeddedDriverOptions,
  EmbeddedLogDriver,
  embeddedDriver,
  type MessagingTables,
  messagingMigrations,
  SqlLeaseStore,
} from "./embedded/index.ts";
export {
  InvalidEventError,
  isInvalidEventError,
  isMessagingError,
  MessagingError,
  type MessagingErrorCode,
} from "./errors.ts";
export { defineEvent, type EventDefinition, EventRegistry } from "./event-registry.ts";
export { HEADER } from "./headers.ts";
export { type HandleOnceResult, Inbox } from "./inbox.ts";
export { type BusOptions, createBus } from "./log-bus.ts";
export { MemoryLogDriver } from "./memory/index.ts";
export { deadLetterTopic, partitionOf } from "./naming.ts";
export { type JetStreamDriver, type JetStreamDriverOptions, jetStreamDriver } from "./nats/index.ts";
export { Outbox, type OutboxOptions } from "./outbox.ts";
export { OutboxRelay, type OutboxRelayOptions } from "./outbox-relay.ts";
export type {
  Backoff,
  Bus,
  BusCapabilities,
  DeliveryContext,
  EventInput,
  GroupPosition,
  Handler,
  Headers,
  Message,
  PublishItem,
  PublishReceipt,
  SubscribeOptions,
  Subscription,
  TopicSpec,
} from "./types.ts";

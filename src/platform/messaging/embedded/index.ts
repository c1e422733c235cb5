export { type EmbeddedDriverOptions, EmbeddedLogDriver, embeddedDriver } from "./embedded-driver.ts";
export type { CommittedRow } from "./log-readers.ts";
export { type MessagingTables, messagingMigrations } from "./schema.ts";
export { SqlLeaseStore } from "./sql-leases.ts";

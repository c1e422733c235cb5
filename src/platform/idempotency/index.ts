export { canonicalJson, requestFingerprint } from "./fingerprint.ts";
export {
  type ClaimResult,
  IdempotencyStore,
  type IdempotencyStoreOptions,
  type StoredResponse,
} from "./idempotency-store.ts";
export { type IdempotencyDb, type IdempotencyKeysTable, idempotencyMigrations } from "./migrations.ts";
export { type IdempotencyClaim, type IdempotencyPluginOptions, registerIdempotency } from "./plugin.ts";
export { startIdempotencyReaper } from "./reaper.ts";

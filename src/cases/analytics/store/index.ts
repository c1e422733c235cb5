export {
  type AnomaliesTable,
  type LatestTradesTable,
  SHARD_NAMESPACE,
  type ShardDb,
  type SymbolsTable,
  shardMigrations,
  type WindowResultsTable,
} from "./schema.ts";
export {
  emptyWrites,
  openShardedStore,
  ShardedStore,
  type ShardedStoreOptions,
  type ShardWrites,
} from "./sharded-store.ts";

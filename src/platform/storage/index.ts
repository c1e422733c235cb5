export { quoteIdent } from "./dialects.ts";
export { GroupCommit, type GroupCommitOptions } from "./group-commit.ts";
export { type Placeholders, PreparedStatement, prepare } from "./prepared.ts";
export type { NodeSqliteDatabase } from "./sqlite-database.ts";
export { type Migration, openStore, type Store, type StoreConfig, type StoreKind } from "./store.ts";

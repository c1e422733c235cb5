export {
  InventoryRepository,
  type InventoryRepositoryOptions,
  type LineItem,
  type ReserveResult,
  type StockLevel,
} from "./inventory-repository.ts";
export { type InventoryDb, inventoryMigrations } from "./migrations.ts";

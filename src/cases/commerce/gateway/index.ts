export { type GatewayFaults, GatewayFaultsSchema, NO_FAULTS } from "./faults.ts";
export { createGatewayService, type GatewayService, type GatewayServiceOptions } from "./gateway-service.ts";
export { type Charge, GatewayLedger, type Refund } from "./ledger.ts";
export { type GatewayDb, gatewayMigrations } from "./migrations.ts";

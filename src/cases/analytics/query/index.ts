export { createFreshnessMetrics, type FreshnessMetrics } from "./freshness.ts";
export { createQueryRole, type QueryRoleDeps } from "./query-role.ts";
export {
  createQueryService,
  QUERY_GROUP,
  type QueryService,
  type QueryServiceOptions,
  type WindowsUpdatedPayload,
} from "./query-service.ts";
export {
  type AnalyticsReads,
  type AnomalyView,
  type LatestView,
  type MoverView,
  ShardedReads,
  type TopMoversView,
  type WindowView,
} from "./reads.ts";

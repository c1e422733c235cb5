export {
  createIngestService,
  type IngestServiceOptions,
  MAX_TRADES_PER_REQUEST,
  TradeSchema,
} from "./ingest-service.ts";
export { LiveFeed, type LiveFeedOptions } from "./live-feed.ts";
export { TradePublisher, type TradePublisherOptions } from "./trade-publisher.ts";

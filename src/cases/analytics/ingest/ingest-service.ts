import { type Static, Type } from "@sinclair/typebox";
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import {
  createService,
  HttpProblem,
  type Service,
  type ServiceExtension,
} from "../../../platform/http/index.ts";
import { ASSET_CLASSES, batchOf, SYMBOL_PATTERN, type Trade } from "../feed/index.ts";
import type { TradePublisher } from "./trade-publisher.ts";

export const TradeSchema = Type.Object(
  {
    tradeId: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    symbol: Type.String({ minLength: 1, maxLength: 32, pattern: SYMBOL_PATTERN }),
    exchange: Type.String({ minLength: 1, maxLength: 32 }),
    assetClass: Type.Union(ASSET_CLASSES.map((c) => Type.Literal(c))),
    price: Type.Number({ exclusiveMinimum: 0, maximum: 1e12 }),
    size: Type.Number({ exclusiveMinimum: 0, maximum: 1e12 }),
    ts: Type.Integer({ minimum: 0, maximum: 8.64e15 }),
  },
  { additionalProperties: false },
);

/** Trades per request at most: a request is validated whole before anything is published. */
export const MAX_TRADES_PER_REQUEST = 100_000;

const TradesBody = Type.Array(TradeSchema, { minItems: 1, maxItems: MAX_TRADES_PER_REQUEST });

export interface IngestServiceOptions {
  publisher: TradePublisher;
  logger: Logger;
  registry: Registry;
  http: { host: string; port: number };
  admin?: { enabled: boolean; token?: string };
  extensions?: readonly ServiceExtension[];
  readiness?: Record<string, () => Promise<void>>;
}

/**
 * `POST /trades`: a JSON array, or NDJSON (one trade a line, `application/x-ndjson`). The whole request is
 * validated first; one bad trade answers 400 naming its index and field, and nothing is published.
 * Good requests are published as per-partition frames; 202 once the log has them.
 */
export function createIngestService(options: IngestServiceOptions): Service {
  const service = createService({
    name: "analytics-ingest",
    logger: options.logger,
    registry: options.registry,
    http: { ...options.http, bodyLimitBytes: 32 * 1024 * 1024 },
    ...(options.admin ? { admin: options.admin } : {}),
    ...(options.extensions ? { extensions: options.extensions } : {}),
    ...(options.readiness ? { readiness: options.readiness } : {}),
  });
  const ingested =
    (options.registry.getSingleMetric("bulwark_analytics_trades_ingested_total") as Counter | undefined) ??
    new Counter({
      name: "bulwark_analytics_trades_ingested_total",
      help: "Trades accepted by POST /trades and published to the trades topic",
      registers: [options.registry],
    });
  service.app.addContentTypeParser(
    ["application/x-ndjson", "application/jsonl"],
    { parseAs: "string" },
    (_request, body, done) => {
      try {
        done(null, parseNdjson(body as string));
      } catch (err) {
        done(err as Error, undefined);
      }
    },
  );
  service.app.post("/trades", { schema: { body: TradesBody } }, async (request, reply) => {
    const trades = request.body as Static<typeof TradesBody> as Trade[];
    const frames = await options.publisher.publish(batchOf(trades));
    ingested.inc(trades.length);
    return reply.code(202).send({ accepted: trades.length, frames });
  });
  return service;
}

function parseNdjson(text: string): unknown[] {
  const out: unknown[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      const field = `body[${out.length}]`;
      throw new HttpProblem(
        400,
        "validation",
        "The request is invalid",
        `${field} (line ${i + 1}) is not JSON`,
        {
          errors: [{ field, message: `line ${i + 1} is not JSON` }],
        },
      );
    }
  }
  return out;
}

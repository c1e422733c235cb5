import { createHash } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Kysely, Transaction } from "kysely";
import { HttpProblem } from "../http/index.ts";
import { requestFingerprint } from "./fingerprint.ts";
import type { IdempotencyStore } from "./idempotency-store.ts";
import type { IdempotencyDb } from "./migrations.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The route takes an `Idempotency-Key` header (IETF draft; Stripe semantics). */
    idempotency?: boolean | { scope?: string };
  }
  interface FastifyRequest {
    /** Set on idempotent routes once the key is claimed for this request. */
    idempotency?: IdempotencyClaim;
  }
}

export interface IdempotencyClaim {
  scope: string;
  key: string;
  /**
   * Stores the response inside the handler's own transaction, so the effect and the finished key commit
   * together; the plugin then does not store it again.
   */
  finishWith(
    trx: Kysely<IdempotencyDb> | Transaction<IdempotencyDb>,
    status: number,
    body: unknown,
  ): Promise<void>;
  /** The status given to finishWith, if any; settled in onSend once the reply is known. */
  finishedWithStatus: number | undefined;
  finished: boolean;
}

export interface IdempotencyPluginOptions {
  store: IdempotencyStore;
  /** Off reproduces the "before" architecture: the header is ignored and every request runs. */
  enabled: boolean;
  /** Scope prefix, usually the service name, so two services never share a key space. */
  scope: string;
  /**
   * Who is asking (an authenticated principal or client id), so each caller has a key space of its own:
   * without it two callers who pick the same key collide, and one could be replayed the other's answer.
   * Called after authentication hooks; `undefined` means an anonymous caller.
   */
  principalOf?: (request: FastifyRequest) => string | undefined;
}

/** `<service>:<route>`, or `<service>:<length>:<principal>:<route>` when keys are per caller. */
function scopeOf(options: IdempotencyPluginOptions, request: FastifyRequest, routeScope: string): string {
  if (options.principalOf === undefined) return `${options.scope}:${routeScope}`;
  // Length-prefixed, so no choice of principal can forge another caller's scope; a long one is hashed so
  // the scope fits its column (varchar(100)).
  let principal = options.principalOf(request) ?? "";
  if (principal.length > 36)
    principal = `#${createHash("sha256").update(principal).digest("base64url").slice(0, 22)}`;
  return `${options.scope}:${principal.length}:${principal}:${routeScope}`;
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
const HEADER_FIELD = "headers.idempotency-key";

/**
 * Adds Idempotency-Key handling to routes declared with `config: { idempotency: true }`. Runs after schema
 * validation, so nothing is stored for a request that failed validation.
 */
export function registerIdempotency(app: FastifyInstance, options: IdempotencyPluginOptions): void {
  const { store } = options;

  app.addHook("preHandler", async (request: FastifyRequest, reply: FastifyReply) => {
    const setting = request.routeOptions.config?.idempotency;
    if (!setting || !options.enabled) return;
    const key = parseKey(request.headers["idempotency-key"]);
    const route = request.routeOptions.url ?? request.url;
    const routeScope = (typeof setting === "object" && setting.scope) || `${request.method} ${route}`;
    const scope = scopeOf(options, request, routeScope);
    const fingerprint = requestFingerprint(request.method, route, request.params, request.body);
    const claim = await store.claim(scope, key, fingerprint);
    switch (claim.kind) {
      case "claimed": {
        const idempotency: IdempotencyClaim = {
          scope,
          key,
          finished: false,
          finishedWithStatus: undefined,
          async finishWith(trx, status, body) {
            await store.finish(
              scope,
              key,
              { status, body: JSON.stringify(body), contentType: "application/json; charset=utf-8" },
              trx,
            );
            idempotency.finishedWithStatus = status;
          },
        };
        request.idempotency = idempotency;
        return;
      }
      case "replay":
        reply.code(claim.response.status).header("idempotent-replayed", "true");
        if (claim.response.contentType) reply.type(claim.response.contentType);
        return reply.send(claim.response.body);
      case "in-flight":
        throw new HttpProblem(
          409,
          "idempotency-key-in-use",
          "A request with this Idempotency-Key is still being processed",
          "retry after it completes",
          {
            errors: [{ field: HEADER_FIELD, message: "is in use by a request in flight" }],
          },
        );
      case "mismatch":
        throw new HttpProblem(
          422,
          "idempotency-key-reused",
          "This Idempotency-Key was used with a different request",
          "use a new key for a new request",
          {
            errors: [{ field: HEADER_FIELD, message: "was already used with a different payload" }],
          },
        );
    }
  });

  app.addHook("onSend", async (request, reply, payload) => {
    const claim = request.idempotency;
    if (!claim || claim.finished) return payload;
    // finishWith wrote inside the handler's transaction. If the reply carries that status, the transaction
    // committed; if not (it rolled back and the handler failed), store the reply actually sent.
    if (claim.finishedWithStatus === reply.statusCode) {
      claim.finished = true;
      return payload;
    }
    if (typeof payload !== "string" && !Buffer.isBuffer(payload)) {
      // A streamed body cannot be replayed; free the key rather than replay something partial.
      await store.release(claim.scope, claim.key);
      return payload;
    }
    const contentType = reply.getHeader("content-type");
    await store.finish(claim.scope, claim.key, {
      status: reply.statusCode,
      body: payload.toString(),
      contentType: typeof contentType === "string" ? contentType : null,
    });
    claim.finished = true;
    return payload;
  });
}

function parseKey(header: string | string[] | undefined): string {
  if (header === undefined || header === "") {
    throw new HttpProblem(
      400,
      "validation",
      "The request is invalid",
      "the Idempotency-Key header is required",
      {
        errors: [{ field: HEADER_FIELD, message: "is required" }],
      },
    );
  }
  // The draft sends the key as a structured-field string ("..."); accept the bare form too.
  const raw = Array.isArray(header) ? header[0]! : header;
  const key = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
  if (!KEY_PATTERN.test(key)) {
    throw new HttpProblem(
      400,
      "validation",
      "The request is invalid",
      "the Idempotency-Key must be 1-255 visible ASCII characters",
      {
        errors: [{ field: HEADER_FIELD, message: "must be 1-255 visible ASCII characters" }],
      },
    );
  }
  return key;
}

import { type TextResponse, tracedRequest } from "../../../platform/observability/index.ts";
import type { Policy } from "../../../platform/resilience/index.ts";

export type ChargeOutcome =
  | { kind: "captured"; chargeId: string; amountCents: number }
  | { kind: "declined"; reason: string };

/** The gateway could not be reached or answered 5xx/429 before doing anything: safe to retry. */
export class GatewayUnavailableError extends Error {
  readonly code = "BWK_ERR_PAYMENT_GATEWAY_UNAVAILABLE";
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "GatewayUnavailableError";
    this.retryAfterMs = retryAfterMs;
  }
}

/** The request may or may not have been applied (timeout, reset connection): the outcome is unknown. */
export class AmbiguousOutcomeError extends Error {
  readonly code = "BWK_ERR_PAYMENT_AMBIGUOUS";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AmbiguousOutcomeError";
  }
}

export interface GatewayClientOptions {
  baseUrl: string;
  /** Retry, breaker, timeout (and bulkhead) around every gateway call. */
  policy: Policy;
  /** Send an Idempotency-Key derived from the order (off reproduces the "before" architecture). */
  idempotency: boolean;
  /** On an ambiguous outcome, ask the gateway by key before deciding (needs idempotency). */
  reconciliation: boolean;
  /** Per-attempt timeout when the policy has none. */
  timeoutMs: number;
}

/** What the payment service needs from a payment provider; the benches plug a zero-cost stub in here. */
export interface PaymentGateway {
  charge(orderId: string, amountCents: number, token: string): Promise<ChargeOutcome>;
  refund(orderId: string, chargeId: string): Promise<{ refundId: string; amountCents: number }>;
  reconcile(orderId: string): Promise<ChargeOutcome | undefined>;
}

/**
 * Charges and refunds through the payment gateway. It never charges blindly twice: a retry reuses the
 * order's key, and after an ambiguous outcome it first asks the gateway whether the charge exists.
 */
export class GatewayClient implements PaymentGateway {
  readonly #o: GatewayClientOptions;
  constructor(options: GatewayClientOptions) {
    this.#o = options;
  }

  async charge(orderId: string, amountCents: number, token: string): Promise<ChargeOutcome> {
    const key = `charge-${orderId}`;
    return this.#o.policy.execute(async (ctx) => {
      if (ctx.attempt > 1 && this.#o.reconciliation && this.#o.idempotency) {
        const existing = await this.#findCharge(key, ctx.signal);
        if (existing) return existing;
      }
      const response = await this.#post("/charges", this.#o.idempotency ? key : undefined, ctx.signal, {
        amountCents,
        currency: "usd",
        source: token,
        reference: orderId,
      });
      const body = jsonOf(response) as { id?: string; amountCents?: number; code?: string };
      if (response.status === 201)
        return { kind: "captured", chargeId: body.id!, amountCents: body.amountCents! };
      if (response.status === 402) return { kind: "declined", reason: body.code ?? "card_declined" };
      throw unavailable(response);
    });
  }

  async refund(orderId: string, chargeId: string): Promise<{ refundId: string; amountCents: number }> {
    return this.#o.policy.execute(async (ctx) => {
      const response = await this.#post("/refunds", `refund-${orderId}`, ctx.signal, { chargeId });
      const body = jsonOf(response) as { id?: string; amountCents?: number };
      if (response.status === 201) return { refundId: body.id!, amountCents: body.amountCents! };
      if (response.status === 409) throw new Error(`refund of ${chargeId} refused: already refunded in full`);
      throw unavailable(response);
    });
  }

  /** What the gateway holds for this order's charge key: the charge, or undefined if it has none. */
  async reconcile(orderId: string): Promise<ChargeOutcome | undefined> {
    return this.#o.policy.execute((ctx) => this.#findCharge(`charge-${orderId}`, ctx.signal));
  }

  async #findCharge(key: string, signal: AbortSignal): Promise<ChargeOutcome | undefined> {
    const response = await this.#fetch(`/charges?idempotencyKey=${encodeURIComponent(key)}`, { signal });
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw unavailable(response);
    const charge = JSON.parse(response.text) as { id: string; amountCents: number; status: string };
    return charge.status === "succeeded"
      ? { kind: "captured", chargeId: charge.id, amountCents: charge.amountCents }
      : { kind: "declined", reason: "card_declined" };
  }

  #post(path: string, key: string | undefined, signal: AbortSignal, body: object): Promise<TextResponse> {
    return this.#fetch(path, {
      method: "POST",
      signal,
      headers: { "content-type": "application/json", ...(key ? { "idempotency-key": key } : {}) },
      body: JSON.stringify(body),
    });
  }

  async #fetch(
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: string; signal: AbortSignal },
  ): Promise<TextResponse> {
    try {
      return await tracedRequest(new URL(path, this.#o.baseUrl), { ...init, timeoutMs: this.#o.timeoutMs });
    } catch (err) {
      // Did the request reach the gateway? A refused connection did not; anything later might have.
      const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
      if (code === "ECONNREFUSED")
        throw new GatewayUnavailableError("gateway refused the connection", undefined, { cause: err });
      throw new AmbiguousOutcomeError(
        `gateway call ${init.method ?? "GET"} ${path} ended without an answer`,
        { cause: err },
      );
    }
  }
}

function jsonOf(response: TextResponse): unknown {
  try {
    return JSON.parse(response.text);
  } catch {
    return {};
  }
}

function unavailable(response: TextResponse): GatewayUnavailableError {
  const retryAfter = Number(response.headers["retry-after"]);
  return new GatewayUnavailableError(
    `gateway answered ${response.status}`,
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
  );
}

import { LRUCache } from "lru-cache";
import type { Clock } from "../../../platform/time/index.ts";
import { systemClock } from "../../../platform/time/index.ts";
import type { BankingConfig } from "../config.ts";
import type { OutgoingCalls, OutgoingResponse } from "./outgoing.ts";

/** A downstream said no (401/403/404/4xx): not a failure to degrade around, an answer to pass on. */
export class DownstreamRefusal extends Error {
  readonly code = "BWK_ERR_BANKING_DOWNSTREAM_REFUSED";
  readonly status: number;
  readonly body: unknown;
  constructor(dependency: string, status: number, body: unknown) {
    super(`${dependency} refused with ${status}`);
    this.name = "DownstreamRefusal";
    this.status = status;
    this.body = body;
  }
}

export function isDownstreamRefusal(err: unknown): err is DownstreamRefusal {
  return (err as { code?: unknown } | null)?.code === "BWK_ERR_BANKING_DOWNSTREAM_REFUSED";
}

function ok<T>(dependency: string, response: OutgoingResponse<T>): T {
  if (response.status >= 200 && response.status < 300) return response.body;
  throw new DownstreamRefusal(dependency, response.status, response.body);
}

export interface Balance {
  accountId: string;
  balanceCents: number;
  currency: string;
  overdraftLimitCents: number;
  asOf: string | number;
  stale?: true;
}

export interface CustomerProfile {
  customerId: string;
  name: string;
  accountIds: string[];
}

export interface HistoryItem {
  entryId: string;
  transferId: string;
  amountCents: number;
  counterpartyAccountId: string;
  reference: string | null;
  at: string | number;
}

/** The caller's bound and cancellation for one section call. */
export interface SectionCallOptions {
  /** Monotonic ms; default the current request's deadline. */
  deadline?: number;
  signal?: AbortSignal;
}

const CACHE_SIZE = 10_000;

/**
 * Balances from accounts. Fallback (switch `fallbacks`): the last balance this process saw for the account,
 * marked `stale: true` with its own `asOf`. The cache is keyed by customer and account, so a fallback never
 * shows one customer a balance fetched for another.
 */
export class AccountsClient {
  readonly #calls: OutgoingCalls;
  readonly #config: BankingConfig;
  readonly #lastKnown = new LRUCache<string, Balance>({ max: CACHE_SIZE });

  constructor(config: BankingConfig, calls: OutgoingCalls) {
    this.#config = config;
    this.#calls = calls;
  }

  async balance(
    customerId: string,
    accountId: string,
    bearer: string,
    options: SectionCallOptions = {},
  ): Promise<Balance> {
    const key = `${customerId}\u0000${accountId}`;
    try {
      const answer = await this.#calls.call<Balance>("accounts", {
        path: `/accounts/${encodeURIComponent(accountId)}/balance`,
        headers: { authorization: `Bearer ${bearer}` },
        ...options,
      });
      const balance = ok("accounts", answer);
      this.#lastKnown.set(key, balance);
      return balance;
    } catch (err) {
      if (isDownstreamRefusal(err) || !this.#config.patterns.fallbacks) throw err;
      const cached = this.#lastKnown.get(key);
      if (!cached) throw err;
      return { ...cached, stale: true };
    }
  }
}

/** Recent transactions from history; the BFF omits the section when this fails (see the mobile service). */
export class HistoryClient {
  readonly #calls: OutgoingCalls;

  constructor(calls: OutgoingCalls) {
    this.#calls = calls;
  }

  async recent(
    accountId: string,
    bearer: string,
    limit: number,
    options: SectionCallOptions = {},
  ): Promise<HistoryItem[]> {
    const answer = await this.#calls.call<{ items: HistoryItem[] }>("history", {
      path: `/accounts/${encodeURIComponent(accountId)}/transactions?limit=${limit}`,
      headers: { authorization: `Bearer ${bearer}` },
      ...options,
    });
    return ok("history", answer).items;
  }
}

/**
 * Customer profiles from auth (service key). Fallback: the last profile seen for the customer, for at most
 * `maxStaleMs` (default one hour), since the BFF needs the account list to ask for anything else.
 */
export class ProfileClient {
  readonly #calls: OutgoingCalls;
  readonly #config: BankingConfig;
  readonly #clock: Clock;
  readonly #maxStaleMs: number;
  readonly #lastKnown = new LRUCache<string, { profile: CustomerProfile; at: number }>({ max: CACHE_SIZE });

  constructor(
    config: BankingConfig,
    calls: OutgoingCalls,
    options: { clock?: Clock; maxStaleMs?: number } = {},
  ) {
    this.#config = config;
    this.#calls = calls;
    this.#clock = options.clock ?? systemClock;
    this.#maxStaleMs = options.maxStaleMs ?? 3_600_000;
  }

  async profile(
    customerId: string,
    options: SectionCallOptions = {},
  ): Promise<{ profile: CustomerProfile; stale: boolean }> {
    try {
      const answer = await this.#calls.call<CustomerProfile>("auth", {
        path: `/customers/${encodeURIComponent(customerId)}/profile`,
        ...options,
      });
      const profile = ok("auth", answer);
      this.#lastKnown.set(customerId, { profile, at: this.#clock.now() });
      return { profile, stale: false };
    } catch (err) {
      if (isDownstreamRefusal(err) || !this.#config.patterns.fallbacks) throw err;
      const cached = this.#lastKnown.get(customerId);
      if (!cached || this.#clock.now() - cached.at > this.#maxStaleMs) throw err;
      return { profile: cached.profile, stale: true };
    }
  }
}

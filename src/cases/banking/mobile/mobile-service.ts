import { Counter } from "prom-client";
import { bearerTokenOf, HttpProblem, type Service } from "../../../platform/http/index.ts";
import { isTimeoutError } from "../../../platform/resilience/index.ts";
import { failureReason, type OutgoingCalls } from "../clients/outgoing.ts";
import {
  AccountsClient,
  type Balance,
  type CustomerProfile,
  HistoryClient,
  type HistoryItem,
  isDownstreamRefusal,
  ProfileClient,
  type SectionCallOptions,
} from "../clients/section-clients.ts";
import { type BankingContext, bankingService } from "../context.ts";
import { type Authenticator, authenticateRequest } from "../principal.ts";

/** Transactions shown on the home screen. */
export const HOME_TRANSACTIONS = 10;

export interface Degraded {
  section: "customer" | "balances" | "transactions";
  reason: string;
}

export interface MobileHome {
  customer: { customerId: string; name: string | null };
  balances: Array<Pick<Balance, "accountId" | "balanceCents" | "asOf"> & { currency?: string; stale?: true }>;
  transactions: { items: HistoryItem[] } | null;
  degraded: Degraded[];
}

export interface MobileService {
  service: Service;
  accounts: AccountsClient;
  history: HistoryClient;
  profiles: ProfileClient;
}

const LATE = Symbol("late");

const timeOf = (at: string | number): number => (typeof at === "number" ? at : Date.parse(at));

/**
 * The mobile BFF: `GET /mobile/home` aggregates the profile (auth), every account's balance (accounts) and the
 * recent transactions (history) in parallel, within `mobileDeadlineMs` of the request's arrival (or the
 * caller's `x-deadline-ms`, if tighter). With fallbacks on, a section that fails or is late is answered from
 * the last known value (`stale`) or left out, and named in `degraded`; the answer is still 200. With fallbacks
 * off, a failed section fails the request (503, or 504 on a timeout), as the "before" BFF did.
 */
export function createMobileService(
  ctx: BankingContext,
  deps: { calls: OutgoingCalls; authenticator: Authenticator },
): MobileService {
  const { config, clock } = ctx;
  const accounts = new AccountsClient(config, deps.calls);
  const history = new HistoryClient(deps.calls);
  const profiles = new ProfileClient(config, deps.calls, { clock });
  // Optional dependencies only: a flaky auth, accounts or history degrades the answer, not readiness.
  const service = bankingService(ctx, "mobile", {});
  const degradedName = "bulwark_banking_mobile_degraded_sections_total";
  const degradedTotal =
    (ctx.registry.getSingleMetric(degradedName) as Counter<"section" | "reason"> | undefined) ??
    new Counter({
      name: degradedName,
      help: "Sections of /mobile/home answered stale or left out, by section and reason",
      labelNames: ["section", "reason"],
      registers: [ctx.registry],
    });
  const timeouts = config.patterns.timeouts;
  const fallbacks = config.patterns.fallbacks;

  /** Resolves to LATE at the deadline, so a section that ignores its signal cannot hold the answer. */
  const settleBy = <T>(
    promise: Promise<T>,
    deadline: number | undefined,
  ): Promise<PromiseSettledResult<T | typeof LATE>> => {
    const settled = promise.then(
      (value) => ({ status: "fulfilled" as const, value }),
      (reason: unknown) => ({ status: "rejected" as const, reason }),
    );
    if (deadline === undefined) return settled;
    let timer: { cancel(): void } | undefined;
    const late = new Promise<PromiseSettledResult<typeof LATE>>((resolve) => {
      timer = clock.setTimeout(
        () => resolve({ status: "fulfilled", value: LATE }),
        Math.max(0, deadline - clock.monotonic()),
      );
    });
    return Promise.race([settled, late]).finally(() => timer?.cancel());
  };

  const failSection = (result: PromiseSettledResult<unknown>): never => {
    if (result.status === "fulfilled") {
      throw new HttpProblem(504, "dependency-timeout", "A dependency did not answer in time");
    }
    const err = result.reason;
    if (isDownstreamRefusal(err) && (err.status === 401 || err.status === 403)) {
      throw new HttpProblem(
        err.status,
        err.status === 401 ? "unauthenticated" : "forbidden",
        "Refused downstream",
      );
    }
    if (isTimeoutError(err))
      throw new HttpProblem(504, "dependency-timeout", "A dependency did not answer in time");
    throw new HttpProblem(503, "dependency-unavailable", "A dependency is unavailable", failureReason(err));
  };

  service.app.get(
    "/mobile/home",
    { preHandler: authenticateRequest(deps.authenticator) },
    async (request, reply): Promise<MobileHome> => {
      const principal = request.principal!;
      const bearer = bearerTokenOf(request.headers.authorization)!;
      const arrived = clock.monotonic() - reply.elapsedTime;
      const deadline = timeouts
        ? Math.min(request.deadline ?? Number.POSITIVE_INFINITY, arrived + config.mobileDeadlineMs)
        : undefined;
      const call: SectionCallOptions = deadline === undefined ? {} : { deadline };
      const degraded: Degraded[] = [];
      const reasonOf = (result: PromiseSettledResult<unknown>) =>
        result.status === "fulfilled"
          ? "deadline"
          : isDownstreamRefusal(result.reason)
            ? `status-${result.reason.status}`
            : failureReason(result.reason);

      let profile: CustomerProfile | undefined;
      const found = await settleBy(profiles.profile(principal.customerId, call), deadline);
      if (found.status === "fulfilled" && found.value !== LATE) {
        profile = found.value.profile;
        if (found.value.stale) degraded.push({ section: "customer", reason: "stale" });
      } else {
        if (!fallbacks) failSection(found);
        degraded.push({ section: "customer", reason: reasonOf(found) });
      }
      const customer = { customerId: principal.customerId, name: profile?.name ?? null };
      if (!profile) {
        degraded.push({ section: "balances", reason: "no-account-list" });
        degraded.push({ section: "transactions", reason: "no-account-list" });
        for (const d of degraded) degradedTotal.inc({ section: d.section, reason: d.reason });
        return { customer, balances: [], transactions: null, degraded };
      }

      const [balanceResults, historyResults] = await Promise.all([
        Promise.all(
          profile.accountIds.map((id) =>
            settleBy(accounts.balance(principal.customerId, id, bearer, call), deadline),
          ),
        ),
        Promise.all(
          profile.accountIds.map((id) =>
            settleBy(history.recent(id, bearer, HOME_TRANSACTIONS, call), deadline),
          ),
        ),
      ]);

      const balances: MobileHome["balances"] = [];
      for (const result of balanceResults) {
        if (result.status === "fulfilled" && result.value !== LATE) {
          const b = result.value;
          balances.push({
            accountId: b.accountId,
            balanceCents: b.balanceCents,
            currency: b.currency,
            asOf: b.asOf,
            ...(b.stale ? { stale: true as const } : {}),
          });
        } else {
          if (!fallbacks) failSection(result);
          degraded.push({ section: "balances", reason: reasonOf(result) });
        }
      }
      if (balances.some((b) => b.stale) && !degraded.some((d) => d.section === "balances")) {
        degraded.push({ section: "balances", reason: "stale" });
      }

      let transactions: MobileHome["transactions"] = { items: [] };
      const failedHistory = historyResults.find((r) => r.status === "rejected" || r.value === LATE);
      if (failedHistory) {
        if (!fallbacks) failSection(failedHistory);
        degraded.push({ section: "transactions", reason: reasonOf(failedHistory) });
        transactions = null;
      } else {
        const items = historyResults
          .flatMap((r) => (r.status === "fulfilled" && r.value !== LATE ? r.value : []))
          .sort((a, b) => timeOf(b.at) - timeOf(a.at))
          .slice(0, HOME_TRANSACTIONS);
        transactions = { items };
      }
      for (const d of degraded) degradedTotal.inc({ section: d.section, reason: d.reason });
      return { customer, balances, transactions, degraded };
    },
  );
  return { service, accounts, history, profiles };
}

import type { FastifyRequest } from "fastify";
import { HttpProblem, type ServiceApp } from "../../../platform/http/index.ts";
import { type Authenticator, authenticateRequest } from "../principal.ts";
import type { LedgerRepository } from "./ledger-repository.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * The route needs a bearer token, and the principal must own the account this returns (404 if there is
     * no such account, 403 if it is someone else's).
     */
    ownedAccount?: (request: FastifyRequest) => string;
  }
}

/**
 * Authenticates and checks ownership on every route declaring `ownedAccount`. Register it before the
 * idempotency plugin: hooks run in registration order, so a stored answer is never replayed to a caller
 * who may not see it.
 */
export function guardOwnedAccounts(app: ServiceApp, authenticator: Authenticator, ledger: LedgerRepository) {
  const authenticate = authenticateRequest(authenticator);
  app.addHook("preHandler", async (request, reply) => {
    const ownedAccount = request.routeOptions.config?.ownedAccount;
    if (!ownedAccount) return;
    await authenticate(request, reply);
    const accountId = ownedAccount(request);
    const account = await ledger.account(accountId);
    if (!account) throw new HttpProblem(404, "account-not-found", "No such account", accountId);
    if (account.customerId !== request.principal?.customerId) {
      throw new HttpProblem(403, "forbidden", "This account belongs to another customer", accountId);
    }
  });
}

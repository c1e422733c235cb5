import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { checkBanking } from "../../../src/cases/banking/checker.ts";
import { storeTargets } from "../../support/stores.ts";
import { bankingHarness } from "./system-harness.ts";

const targets = await storeTargets();
const RUNS = Number(process.env.BULWARK_BANKING_PROPERTY_RUNS ?? 8);

const Op = fc.record({
  from: fc.integer({ min: 0, max: 3 }),
  to: fc.integer({ min: 0, max: 3 }),
  amountCents: fc.integer({ min: 1, max: 4_000 }),
  /** Sent twice at once with the same key, as a client retrying too early would. */
  doubled: fc.boolean(),
});

describe.each(targets)("banking transfers under concurrency on $name", (target) => {
  const harness = bankingHarness(target);
  afterAll(async () => {
    await harness.stopAll();
    await target.cleanup();
  });

  it("N concurrent random transfers keep every invariant: money conserved, no overdraft broken, each key once", {
    timeout: 120_000,
  }, async () => {
    const h = await harness.start();
    const alice = await h.customer("alice");
    const bob = await h.customer("bob");
    const tokens = { alice: await h.tokenFor(alice), bob: await h.tokenFor(bob) };
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 4, maxLength: 4 }),
        fc.array(fc.integer({ min: 0, max: 2_000 }), { minLength: 4, maxLength: 4 }),
        fc.array(Op, { minLength: 1, maxLength: 30 }),
        async (openings, limits, ops) => {
          run++;
          const accounts = openings.map((balanceCents, i) => ({
            id: `r${run}-acc-${i}`,
            owner: i < 2 ? ("alice" as const) : ("bob" as const),
            balanceCents,
            overdraftLimitCents: limits[i]!,
          }));
          for (const a of accounts) await h.ledger.openAccount({ ...a, customerId: a.owner });
          const sends = ops.flatMap((op, i) => {
            if (op.from === op.to) return [];
            const from = accounts[op.from]!;
            const body = {
              fromAccountId: from.id,
              toAccountId: accounts[op.to]!.id,
              amountCents: op.amountCents,
            };
            const key = `r${run}-op-${i}`;
            const once = () =>
              h.transfer(tokens[from.owner], body, key).then(async (res) => ({
                key,
                op,
                status: res.status,
                body: (await res.json()) as { transferId?: string },
              }));
            return op.doubled ? [once(), once()] : [once()];
          });
          const results = await Promise.all(sends);
          // Statuses a client may see: done, refused for funds, or "your first attempt is still running".
          for (const r of results) expect([201, 409, 422]).toContain(r.status);
          const applied = new Map<string, { transferId: string; op: (typeof ops)[number] }>();
          for (const r of results.filter((x) => x.status === 201)) {
            const seen = applied.get(r.key);
            if (seen)
              expect(r.body.transferId).toBe(seen.transferId); // a replay, never a second transfer
            else applied.set(r.key, { transferId: r.body.transferId!, op: r.op });
          }
          // Every acknowledged transfer is in the ledger exactly once; nothing else is.
          const ids = accounts.map((a) => a.id);
          const stored = await h.store.db
            .selectFrom("bank_transfers")
            .select(["id", "idempotency_key"])
            .where("from_account_id", "in", ids)
            .execute();
          expect(stored.map((t: { id: string }) => t.id).sort()).toEqual(
            [...applied.values()].map((a) => a.transferId).sort(),
          );
          // Each final balance is its opening plus the acknowledged transfers in and out.
          const expected = new Map(accounts.map((a) => [a.id, a.balanceCents]));
          for (const { op } of applied.values()) {
            const from = accounts[op.from]!.id;
            const to = accounts[op.to]!.id;
            expected.set(from, expected.get(from)! - op.amountCents);
            expected.set(to, expected.get(to)! + op.amountCents);
          }
          for (const a of accounts) {
            const balance = (await h.ledger.account(a.id))!.balanceCents;
            expect(balance).toBe(expected.get(a.id));
            expect(balance).toBeGreaterThanOrEqual(-a.overdraftLimitCents);
          }
          const check = await checkBanking(h.store);
          expect(check.violations).toEqual([]);
          expect(check.ok).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
    console.log(`${target.name}: ${run} runs of concurrent transfers, checker green after each`);
  });
});

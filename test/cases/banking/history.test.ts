import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { HistoryPage } from "../../../src/cases/banking/history/history-service.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";
import { storeTargets } from "../../support/stores.ts";
import { bankingHarness } from "./system-harness.ts";

const targets = await storeTargets();

describe.each(targets)("banking history on $name", (target) => {
  const harness = bankingHarness(target);
  afterEach(() => harness.stopAll());
  afterAll(() => target.cleanup());

  it("pages an account's entries newest first with a keyset cursor: no gaps, no repeats, signed amounts", async () => {
    // A frozen clock: every entry has the same timestamp, so the order comes from the ledger, not the time.
    const h = await harness.start({}, { clock: new FakeClock(Date.now()) });
    const alice = await h.customer("alice", [
      { id: "alice-1", balanceCents: 100_000 },
      { id: "alice-2", balanceCents: 100_000 },
    ]);
    const token = await h.tokenFor(alice);
    const made: string[] = [];
    for (let i = 1; i <= 23; i++) {
      const [from, to] = i % 3 === 0 ? ["alice-2", "alice-1"] : ["alice-1", "alice-2"];
      const res = await h.transfer(token, {
        fromAccountId: from,
        toAccountId: to,
        amountCents: i,
        reference: `t${i}`,
      });
      made.push(((await res.json()) as { transferId: string }).transferId);
    }
    const get = (query: string, bearer = token) =>
      fetch(`${h.urls.history}/accounts/alice-1/transactions${query}`, {
        headers: { authorization: `Bearer ${bearer}` },
      });
    const pages: HistoryPage[] = [];
    let cursor: string | null = null;
    do {
      const res: Response = await get(`?limit=10${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as HistoryPage;
      pages.push(page);
      cursor = page.nextCursor;
      // A transfer made after paging began never shifts the pages still to come.
      if (pages.length === 1) {
        await h.transfer(token, { fromAccountId: "alice-1", toAccountId: "alice-2", amountCents: 999 });
      }
    } while (cursor);
    expect(pages.map((p) => p.items.length)).toEqual([10, 10, 3]);
    const items = pages.flatMap((p) => p.items);
    expect(items.map((i) => i.transferId)).toEqual([...made].reverse());
    for (const [n, item] of items.entries()) {
      const i = 23 - n;
      expect(item.reference).toBe(`t${i}`);
      expect(item.amountCents).toBe(i % 3 === 0 ? i : -i);
      expect(item.counterpartyAccountId).toBe("alice-2");
    }
    const times = items.map((i) => Date.parse(i.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const newest = (await (await get("?limit=1")).json()) as HistoryPage;
    expect(newest.items[0]!.amountCents).toBe(-999);
  });

  it("answers 400 naming the field for a bad limit or cursor, 403 for another's account, 401 without a token", async () => {
    const h = await harness.start();
    const alice = await h.customer("alice", [{ id: "alice-1", balanceCents: 1 }]);
    const bob = await h.customer("bob", [{ id: "bob-1", balanceCents: 1 }]);
    const token = await h.tokenFor(alice);
    const get = (path: string, bearer?: string) =>
      fetch(`${h.urls.history}${path}`, bearer ? { headers: { authorization: `Bearer ${bearer}` } } : {});
    for (const [query, field] of [
      ["?limit=0", "querystring.limit"],
      ["?limit=101", "querystring.limit"],
      ["?cursor=garbage", "querystring.cursor"],
      [`?cursor=${Buffer.from('["x",1]').toString("base64url")}`, "querystring.cursor"],
    ] as const) {
      const res = await get(`/accounts/alice-1/transactions${query}`, token);
      expect(res.status).toBe(400);
      const problem = (await res.json()) as { errors: Array<{ field: string }> };
      expect(problem.errors.map((e) => e.field)).toContain(field);
    }
    expect((await get("/accounts/bob-1/transactions", token)).status).toBe(403);
    expect((await get("/accounts/bob-1/transactions", await h.tokenFor(bob))).status).toBe(200);
    expect((await get("/accounts/alice-1/transactions")).status).toBe(401);
    const empty = (await (await get("/accounts/alice-1/transactions", token)).json()) as HistoryPage;
    expect(empty).toEqual({ items: [], nextCursor: null });
  });
});

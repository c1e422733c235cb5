import { afterAll, afterEach, describe, expect, it } from "vitest";
import { checkBanking } from "../../../src/cases/banking/checker.ts";
import { DependencyUnavailableError, UnauthorizedError } from "../../../src/cases/banking/principal.ts";
import { requestFingerprint } from "../../../src/platform/idempotency/index.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";
import { storeTargets } from "../../support/stores.ts";
import { bankingHarness } from "./system-harness.ts";

const targets = await storeTargets();

interface Problem {
  type: string;
  status: number;
  errors?: Array<{ field: string; message: string }>;
}

describe.each(targets)("banking accounts on $name", (target) => {
  const harness = bankingHarness(target);
  afterEach(() => harness.stopAll());
  afterAll(() => target.cleanup());

  async function twoCustomers(overrides: Record<string, unknown> = {}, extra = {}) {
    const h = await harness.start(overrides, extra);
    const alice = await h.customer("alice", [
      { id: "alice-1", balanceCents: 10_000 },
      { id: "alice-2", balanceCents: 500, overdraftLimitCents: 1_000 },
    ]);
    const bob = await h.customer("bob", [{ id: "bob-1", balanceCents: 2_000 }]);
    return { h, alice, bob, aliceToken: await h.tokenFor(alice), bobToken: await h.tokenFor(bob) };
  }
  const balanceOf = async (h: Awaited<ReturnType<typeof twoCustomers>>["h"], id: string) =>
    (await h.ledger.account(id))!.balanceCents;

  it("moves money with one debit and one credit, and shows the balance to its owner", async () => {
    const { h, aliceToken, bobToken } = await twoCustomers();
    const res = await h.transfer(aliceToken, {
      fromAccountId: "alice-1",
      toAccountId: "bob-1",
      amountCents: 2_500,
      reference: "rent",
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: "COMPLETED",
      fromAccountId: "alice-1",
      toAccountId: "bob-1",
      amountCents: 2_500,
      reference: "rent",
    });
    expect(typeof body.transferId).toBe("string");
    expect(new Date(body.at as string).getTime()).toBeGreaterThan(0);
    const balance = await h.balance(aliceToken, "alice-1");
    expect(await balance.json()).toMatchObject({
      accountId: "alice-1",
      balanceCents: 7_500,
      currency: "EUR",
      overdraftLimitCents: 0,
    });
    expect(
      ((await (await h.balance(bobToken, "bob-1")).json()) as { balanceCents: number }).balanceCents,
    ).toBe(4_500);
    const check = await checkBanking(h.store);
    expect(check).toMatchObject({
      ok: true,
      transfers: 1,
      entries: 2,
      seededTotalCents: 12_500,
      totalCents: 12_500,
    });
  });

  it("refuses a transfer beyond the balance with 422 and changes nothing; an overdraft goes to its limit", async () => {
    const { h, aliceToken } = await twoCustomers();
    const tooMuch = await h.transfer(aliceToken, {
      fromAccountId: "alice-1",
      toAccountId: "bob-1",
      amountCents: 10_001,
    });
    expect(tooMuch.status).toBe(422);
    expect(tooMuch.headers.get("content-type")).toContain("application/problem+json");
    expect(((await tooMuch.json()) as Problem).type).toMatch(/insufficient-funds$/);
    expect(await balanceOf(h, "alice-1")).toBe(10_000);
    expect(await balanceOf(h, "bob-1")).toBe(2_000);
    // alice-2 holds 500 with a 1 000 overdraft: 1 500 may go, not a cent more.
    const toLimit = await h.transfer(aliceToken, {
      fromAccountId: "alice-2",
      toAccountId: "alice-1",
      amountCents: 1_500,
    });
    expect(toLimit.status).toBe(201);
    expect(await balanceOf(h, "alice-2")).toBe(-1_000);
    const beyond = await h.transfer(aliceToken, {
      fromAccountId: "alice-2",
      toAccountId: "alice-1",
      amountCents: 1,
    });
    expect(beyond.status).toBe(422);
    expect(await balanceOf(h, "alice-2")).toBe(-1_000);
    expect((await checkBanking(h.store)).ok).toBe(true);
  });

  it("gives each customer a key space of their own: the same key from two customers moves two sums", async () => {
    const { h, aliceToken, bobToken } = await twoCustomers();
    const fromAlice = await h.transfer(
      aliceToken,
      { fromAccountId: "alice-1", toAccountId: "bob-1", amountCents: 300 },
      "same-key",
    );
    const fromBob = await h.transfer(
      bobToken,
      { fromAccountId: "bob-1", toAccountId: "alice-1", amountCents: 200 },
      "same-key",
    );
    expect(fromAlice.status).toBe(201);
    expect(fromBob.status).toBe(201);
    expect(fromBob.headers.get("idempotent-replayed")).toBeNull();
    expect(await fromBob.json()).toMatchObject({ fromAccountId: "bob-1", amountCents: 200 });
    expect(await balanceOf(h, "alice-1")).toBe(10_000 - 300 + 200);
    expect(await balanceOf(h, "bob-1")).toBe(2_000 + 300 - 200);
    // Each customer's retry still replays their own answer.
    const bobAgain = await h.transfer(
      bobToken,
      { fromAccountId: "bob-1", toAccountId: "alice-1", amountCents: 200 },
      "same-key",
    );
    expect(bobAgain.headers.get("idempotent-replayed")).toBe("true");
    expect(await bobAgain.json()).toMatchObject({ fromAccountId: "bob-1", amountCents: 200 });
    expect(await balanceOf(h, "bob-1")).toBe(2_100);
  });

  it("replays a retried key without moving money twice; another body with the same key is 422", async () => {
    const { h, aliceToken } = await twoCustomers();
    const body = { fromAccountId: "alice-1", toAccountId: "bob-1", amountCents: 1_000 };
    const first = await h.transfer(aliceToken, body, "pay-1");
    const again = await h.transfer(aliceToken, body, "pay-1");
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.json()).toEqual(await first.json());
    expect(await balanceOf(h, "alice-1")).toBe(9_000);
    const other = await h.transfer(aliceToken, { ...body, amountCents: 1_001 }, "pay-1");
    expect(other.status).toBe(422);
    expect(((await other.json()) as Problem).errors?.[0]?.field).toBe("headers.idempotency-key");
    expect(await balanceOf(h, "alice-1")).toBe(9_000);
    // A refused transfer's answer is kept too: the same retry is refused the same way, even after a deposit.
    const big = { fromAccountId: "alice-1", toAccountId: "bob-1", amountCents: 9_500 };
    expect((await h.transfer(aliceToken, big, "big-1")).status).toBe(422);
    expect((await h.transfer(aliceToken, big, "big-1")).status).toBe(422);
    expect((await checkBanking(h.store)).transfers).toBe(1);
  });

  it("answers 409 while the key's first request is in flight, and lets a retry take over a dead one's key", async () => {
    const clock = new FakeClock(Date.now());
    const { h, alice, aliceToken } = await twoCustomers({ idempotencyLockMs: 2_000 }, { clock });
    const body = { fromAccountId: "alice-1", toAccountId: "bob-1", amountCents: 700 };
    // A process claimed alice's key and died before its transaction committed.
    const claim = await h.banking.accounts!.idempotency.claim(
      `accounts:${alice.customerId.length}:${alice.customerId}:POST /transfers`,
      "crashed-1",
      requestFingerprint("POST", "/transfers", {}, body),
    );
    expect(claim.kind).toBe("claimed");
    const busy = await h.transfer(aliceToken, body, "crashed-1");
    expect(busy.status).toBe(409);
    expect(((await busy.json()) as Problem).errors?.[0]?.field).toBe("headers.idempotency-key");
    expect(await balanceOf(h, "alice-1")).toBe(10_000);
    clock.advance(2_001);
    const retried = await h.transfer(aliceToken, body, "crashed-1");
    expect(retried.status).toBe(201);
    expect(await balanceOf(h, "alice-1")).toBe(9_300);
  });

  it("never applies one key twice, even when the idempotency record is lost (the ledger's own key)", async () => {
    const { h, aliceToken } = await twoCustomers();
    const body = { fromAccountId: "alice-1", toAccountId: "bob-1", amountCents: 300 };
    const first = (await (await h.transfer(aliceToken, body, "dup-1")).json()) as { transferId: string };
    await h.store.db.deleteFrom("idempotency_keys").execute();
    const second = await h.transfer(aliceToken, body, "dup-1");
    expect(second.status).toBe(201);
    expect(((await second.json()) as { transferId: string }).transferId).toBe(first.transferId);
    expect(await balanceOf(h, "alice-1")).toBe(9_700);
  });

  it("answers 400 problem+json naming each bad field, and writes nothing", async () => {
    const { h, aliceToken } = await twoCustomers();
    const bad = await h.transfer(aliceToken, {
      fromAccountId: "alice-1",
      toAccountId: "bob 1",
      amountCents: -5,
      extra: 1,
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("content-type")).toContain("application/problem+json");
    const fields = ((await bad.json()) as Problem).errors!.map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(["body.toAccountId", "body.amountCents", "body.extra"]));
    const noKey = await h.transfer(
      aliceToken,
      { fromAccountId: "alice-1", toAccountId: "bob-1", amountCents: 1 },
      null,
    );
    expect(noKey.status).toBe(400);
    expect(((await noKey.json()) as Problem).errors?.[0]?.field).toBe("headers.idempotency-key");
    const same = await h.transfer(aliceToken, {
      fromAccountId: "alice-1",
      toAccountId: "alice-1",
      amountCents: 1,
    });
    expect(same.status).toBe(400);
    expect(((await same.json()) as Problem).errors?.[0]?.field).toBe("body.toAccountId");
    const fractional = await h.transfer(aliceToken, {
      fromAccountId: "alice-1",
      toAccountId: "bob-1",
      amountCents: 1.5,
    });
    expect(fractional.status).toBe(400);
    const control = await h.transfer(aliceToken, {
      fromAccountId: "alice-1",
      toAccountId: "bob-1",
      amountCents: 1,
      reference: "line\nbreak",
    });
    expect(control.status).toBe(400);
    expect(((await control.json()) as Problem).errors?.[0]?.field).toBe("body.reference");
    const check = await checkBanking(h.store);
    expect(check.transfers).toBe(0);
    expect(await balanceOf(h, "alice-1")).toBe(10_000);
  });

  it("lets only the owner move or see an account (403), 404 for an unknown one, 401 without a valid token", async () => {
    const { h, aliceToken, bobToken } = await twoCustomers();
    const steal = await h.transfer(bobToken, {
      fromAccountId: "alice-1",
      toAccountId: "bob-1",
      amountCents: 100,
    });
    expect(steal.status).toBe(403);
    expect((await h.balance(bobToken, "alice-1")).status).toBe(403);
    expect((await h.balance(aliceToken, "nobody-1")).status).toBe(404);
    const toNowhere = await h.transfer(aliceToken, {
      fromAccountId: "alice-1",
      toAccountId: "nobody-1",
      amountCents: 100,
    });
    expect(toNowhere.status).toBe(404);
    expect(((await toNowhere.json()) as Problem).errors?.[0]?.field).toBe("body.toAccountId");
    expect((await h.balance("not-a-token", "alice-1")).status).toBe(401);
    const anonymous = await fetch(`${h.urls.accounts}/accounts/alice-1/balance`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toContain("Bearer");
    expect(await balanceOf(h, "alice-1")).toBe(10_000);
    expect((await checkBanking(h.store)).transfers).toBe(0);
  });

  it("maps the Authenticator port: Unauthorized → 401, DependencyUnavailable → 503 + Retry-After", async () => {
    let failure: Error = new UnauthorizedError();
    const authenticator = {
      authenticate: async () => {
        throw failure;
      },
    };
    const h = await harness.start({}, { authenticator });
    await h.customer("alice", [{ id: "alice-1", balanceCents: 1 }]);
    expect((await h.balance("some-token", "alice-1")).status).toBe(401);
    failure = new DependencyUnavailableError("auth");
    const down = await h.balance("some-token", "alice-1");
    expect(down.status).toBe(503);
    expect(down.headers.get("retry-after")).toBe("1");
    expect(((await down.json()) as Problem).type).toMatch(/dependency-unavailable$/);
  });

  it("a token revoked at auth is refused by accounts (online introspection)", async () => {
    const { h, aliceToken } = await twoCustomers();
    expect((await h.balance(aliceToken, "alice-1")).status).toBe(200);
    const { decodeJwt } = await import("jose");
    await h.authRepo.revoke(decodeJwt(aliceToken).jti!, Date.now(), Date.now() + 60_000);
    expect((await h.balance(aliceToken, "alice-1")).status).toBe(401);
  });
});

import { afterAll, afterEach, describe, expect, it } from "vitest";
import { storeTargets } from "../../support/stores.ts";
import { ADMIN_TOKEN, checkout, commerceHarness } from "./harness.ts";

const targets = await storeTargets();
const sqlite = targets.filter((t) => t.name === "sqlite");

/** OWASP API1 (object-level authorization): an order is shown to whoever placed it, and to operators. */
describe.each(sqlite)("order access on $name", (target) => {
  const harness = commerceHarness(target);
  afterEach(() => harness.stopAll());
  afterAll(() => target.cleanup());

  it("shows an order only to its access token or the admin token; a retry gets the same token", async () => {
    const { urls, order, settled, store } = await harness.start();
    const placed = async (key: string) =>
      (await (await order(checkout("MOUSE-01"), key)).json()) as { orderId: string; accessToken: string };
    const mine = await placed("k-mine");
    const theirs = await placed("k-theirs");
    expect(mine.accessToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(theirs.accessToken).not.toBe(mine.accessToken);
    await settled(mine.orderId);

    const get = (orderId: string, token?: string) =>
      fetch(
        `${urls.order}/orders/${orderId}`,
        token ? { headers: { authorization: `Bearer ${token}` } } : {},
      );
    const own = await get(mine.orderId, mine.accessToken);
    expect(own.status).toBe(200);
    expect(await own.json()).toMatchObject({ orderId: mine.orderId, status: "CONFIRMED" });

    const anonymous = await get(mine.orderId);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toBe('Bearer realm="orders"');
    expect(anonymous.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    // Another order's token, a made-up one and an unknown order all look the same: nothing to enumerate.
    for (const res of [
      await get(mine.orderId, theirs.accessToken),
      await get(mine.orderId, "x".repeat(32)),
      await get("no-such-order", mine.accessToken),
    ]) {
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ status: 404, title: "No such order" });
    }
    expect((await get(theirs.orderId, ADMIN_TOKEN)).status).toBe(200);

    // The stored response is replayed with the same token, and the token itself is not kept with the order.
    const again = await placed("k-mine");
    expect(again).toEqual(mine);
    const row = await store.db
      .selectFrom("ord_orders" as never)
      .selectAll()
      .where("id" as never, "=", mine.orderId as never)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(mine.accessToken);
  });
});

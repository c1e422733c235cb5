import { Type } from "@sinclair/typebox";
import fc from "fast-check";
import type { FastifyRequest } from "fastify";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createService, type Service } from "../../../src/platform/http/index.ts";
import {
  canonicalJson,
  type IdempotencyDb,
  IdempotencyStore,
  idempotencyMigrations,
  registerIdempotency,
} from "../../../src/platform/idempotency/index.ts";
import { createLogger } from "../../../src/platform/observability/index.ts";
import type { Store } from "../../../src/platform/storage/index.ts";
import { FakeClock } from "../../../src/platform/time/index.ts";
import { storeTargets } from "../../support/stores.ts";

const targets = await storeTargets();
const logger = createLogger({ level: "silent" });

describe("canonicalJson", () => {
  it("is independent of key order and distinguishes different values", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(obj));
        expect(JSON.parse(canonicalJson(obj))).toEqual(JSON.parse(JSON.stringify(obj)));
      }),
    );
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: 2 }));
  });
});

describe.each(targets)("idempotency keys on $name", (target) => {
  const stores: Store[] = [];
  const services: Service[] = [];
  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.stop()));
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(() => target.cleanup());

  async function setup({
    enabled = true,
    clock = new FakeClock(1_000_000),
    principalOf,
  }: {
    enabled?: boolean;
    clock?: FakeClock;
    principalOf?: (r: FastifyRequest) => string | undefined;
  } = {}) {
    const store = await target.open();
    stores.push(store);
    await store.migrate("idempotency", idempotencyMigrations);
    const keys = new IdempotencyStore(store.db as import("kysely").Kysely<IdempotencyDb>, {
      clock,
      ttlMs: 60_000,
      lockTimeoutMs: 5_000,
    });
    const service = createService({ name: "orders", logger, shutdown: { readinessGraceMs: 0 } });
    services.push(service);
    registerIdempotency(service.app, {
      store: keys,
      enabled,
      scope: "orders",
      ...(principalOf ? { principalOf } : {}),
    });
    const runs = { count: 0 };
    let gate: Promise<void> | undefined;
    const Body = Type.Object({ sku: Type.String(), qty: Type.Integer({ minimum: 1 }) });
    service.app.post(
      "/orders",
      { schema: { body: Body }, config: { idempotency: true } },
      async (request, reply) => {
        runs.count++;
        if (gate) await gate;
        if (request.body.sku === "explode") throw new Error("database down");
        return reply.code(202).send({ orderId: `o-${runs.count}`, sku: request.body.sku });
      },
    );
    const post = (body: unknown, key?: string, caller?: string) =>
      service.app.inject({
        method: "POST",
        url: "/orders",
        payload: body as object,
        headers: {
          ...(key === undefined ? {} : { "idempotency-key": key }),
          ...(caller === undefined ? {} : { "x-caller": caller }),
        },
      });
    return {
      service,
      keys,
      clock,
      runs,
      post,
      hold() {
        let release!: () => void;
        gate = new Promise((r) => {
          release = r;
        });
        return () => {
          gate = undefined;
          release();
        };
      },
    };
  }

  it("requires the key (400 naming the header) and stores nothing for invalid requests", async () => {
    const { post, runs } = await setup();
    const missing = await post({ sku: "A", qty: 1 });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors).toEqual([{ field: "headers.idempotency-key", message: "is required" }]);
    const invalid = await post({ sku: "A", qty: 0 }, "k1");
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().errors[0].field).toBe("body.qty");
    // The key was not stored by the invalid request: a valid request with it runs normally.
    const ok = await post({ sku: "A", qty: 1 }, "k1");
    expect(ok.statusCode).toBe(202);
    expect(runs.count).toBe(1);
    expect((await post({ sku: "A", qty: 1 }, "x".repeat(300))).statusCode).toBe(400);
  });

  it("replays the first response for the same key and body, without running again", async () => {
    const { post, runs } = await setup();
    const first = await post({ sku: "A", qty: 2 }, '"key-1"');
    expect(first.statusCode).toBe(202);
    // Key order of the body does not matter.
    const again = await post({ qty: 2, sku: "A" }, "key-1");
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual(first.json());
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.headers["content-type"]).toMatch(/application\/json/);
    expect(runs.count).toBe(1);
  });

  it("answers 422 for the same key with a different body", async () => {
    const { post } = await setup();
    await post({ sku: "A", qty: 1 }, "key-2");
    const other = await post({ sku: "B", qty: 1 }, "key-2");
    expect(other.statusCode).toBe(422);
    expect(other.headers["content-type"]).toMatch(/problem\+json/);
  });

  it("keeps a key space per caller when told who is asking: no collision, no replay of another's answer", async () => {
    const callerOf = (r: FastifyRequest) => r.headers["x-caller"] as string | undefined;
    const { post, runs } = await setup({ principalOf: callerOf });
    const alice = await post({ sku: "A", qty: 1 }, "same-key", "alice");
    const bob = await post({ sku: "A", qty: 1 }, "same-key", "bob");
    expect([alice.statusCode, bob.statusCode]).toEqual([202, 202]);
    expect(bob.headers["idempotent-replayed"]).toBeUndefined();
    expect(bob.json().orderId).not.toBe(alice.json().orderId);
    // A different body under another caller's key is that caller's business, not a 422.
    expect((await post({ sku: "B", qty: 1 }, "same-key", "carol")).statusCode).toBe(202);
    // Within one caller the usual semantics hold.
    const aliceAgain = await post({ sku: "A", qty: 1 }, "same-key", "alice");
    expect(aliceAgain.headers["idempotent-replayed"]).toBe("true");
    expect(aliceAgain.json()).toEqual(alice.json());
    expect((await post({ sku: "B", qty: 1 }, "same-key", "alice")).statusCode).toBe(422);
    // A principal can't be chosen to land in another one's scope.
    expect((await post({ sku: "A", qty: 1 }, "k", "a:b")).statusCode).toBe(202);
    expect((await post({ sku: "A", qty: 1 }, "k", "a")).headers["idempotent-replayed"]).toBeUndefined();
    // A long principal still fits the key's scope column, and stays distinct from its neighbours.
    const long = "p".repeat(300);
    expect((await post({ sku: "A", qty: 1 }, "k", long)).statusCode).toBe(202);
    expect(
      (await post({ sku: "A", qty: 1 }, "k", `${long}q`)).headers["idempotent-replayed"],
    ).toBeUndefined();
    expect((await post({ sku: "A", qty: 1 }, "k", long)).headers["idempotent-replayed"]).toBe("true");
    expect(runs.count).toBe(7);
  });

  it("answers 409 while the first request is in flight, and exactly one of many concurrent requests runs", async () => {
    const { post, runs, hold } = await setup();
    const release = hold();
    const first = post({ sku: "A", qty: 1 }, "key-3");
    await new Promise<void>((resolve) => {
      const poll = () => (runs.count === 1 ? resolve() : setImmediate(poll));
      poll();
    });
    const concurrent = await Promise.all(
      Array.from({ length: 20 }, () => post({ sku: "A", qty: 1 }, "key-3")),
    );
    expect(concurrent.every((r) => r.statusCode === 409)).toBe(true);
    release();
    expect((await first).statusCode).toBe(202);
    expect(runs.count).toBe(1);
    expect((await post({ sku: "A", qty: 1 }, "key-3")).headers["idempotent-replayed"]).toBe("true");
  });

  it("replays a server error too (Stripe semantics)", async () => {
    const { post, runs } = await setup();
    const first = await post({ sku: "explode", qty: 1 }, "key-4");
    expect(first.statusCode).toBe(500);
    const again = await post({ sku: "explode", qty: 1 }, "key-4");
    expect(again.statusCode).toBe(500);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(runs.count).toBe(1);
  });

  it("forgets keys after the TTL, and lets a retry take over a key whose request died", async () => {
    const { post, runs, clock, keys } = await setup();
    await post({ sku: "A", qty: 1 }, "key-5");
    await clock.advance(60_001);
    expect((await post({ sku: "B", qty: 1 }, "key-5")).statusCode).toBe(202);
    expect(runs.count).toBe(2);

    // A claim left "started" (its process was killed) blocks retries only until the lock timeout.
    await keys.claim("orders:POST /orders", "key-6", "whatever");
    const early = await post({ sku: "A", qty: 1 }, "key-6");
    expect(early.statusCode).toBe(422); // different fingerprint from the dead claim
    await keys.claim(
      "orders:POST /orders",
      "key-7",
      (await import("../../../src/platform/idempotency/index.ts")).requestFingerprint(
        "POST",
        "/orders",
        {},
        { sku: "A", qty: 1 },
      ),
    );
    expect((await post({ sku: "A", qty: 1 }, "key-7")).statusCode).toBe(409);
    await clock.advance(5_001);
    expect((await post({ sku: "A", qty: 1 }, "key-7")).statusCode).toBe(202);
  });

  it("finishes the key atomically with the handler's own transaction", async () => {
    const { service, keys } = await setup();
    const db = stores.at(-1)!.db as import("kysely").Kysely<IdempotencyDb>;
    let failAfterFinish = true;
    service.app.post("/atomic", { config: { idempotency: true } }, async (request, reply) => {
      await db.transaction().execute(async (trx) => {
        await request.idempotency!.finishWith(trx, 201, { created: true });
        if (failAfterFinish) throw new Error("commit failed");
      });
      return reply.code(201).send({ created: true });
    });
    const call = () =>
      service.app.inject({
        method: "POST",
        url: "/atomic",
        payload: {},
        headers: { "idempotency-key": "atomic-1" },
      });
    // The transaction rolled back with its 201, so the key replays the 500 that was actually sent.
    expect((await call()).statusCode).toBe(500);
    failAfterFinish = false;
    await keys.release("orders:POST /atomic", "atomic-1"); // finished keys are not released
    const replayed500 = await call();
    expect(replayed500.statusCode).toBe(500);
    expect(replayed500.headers["idempotent-replayed"]).toBe("true");
    await service.app.inject({
      method: "POST",
      url: "/atomic",
      payload: {},
      headers: { "idempotency-key": "atomic-2" },
    });
    const replay = await service.app.inject({
      method: "POST",
      url: "/atomic",
      payload: {},
      headers: { "idempotency-key": "atomic-2" },
    });
    expect(replay.statusCode).toBe(201);
    expect(replay.json()).toEqual({ created: true });
    expect(replay.headers["idempotent-replayed"]).toBe("true");
  });

  it("reaps expired keys", async () => {
    const { post, clock, keys } = await setup();
    await post({ sku: "A", qty: 1 }, "r1");
    await post({ sku: "A", qty: 1 }, "r2");
    expect(await keys.reap()).toBe(0);
    await clock.advance(60_001);
    expect(await keys.reap()).toBe(2);
  });

  it("does nothing when switched off: the header is ignored and every request runs", async () => {
    const { post, runs } = await setup({ enabled: false });
    await post({ sku: "A", qty: 1 });
    await post({ sku: "A", qty: 1 }, "same");
    await post({ sku: "A", qty: 1 }, "same");
    expect(runs.count).toBe(3);
  });
});

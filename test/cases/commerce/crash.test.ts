import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadAppConfig, storeConfigFor } from "../../../src/app/index.ts";
import { checkCommerce } from "../../../src/cases/commerce/checker.ts";
import { jetStreamDriver } from "../../../src/platform/messaging/index.ts";
import { seededRandom } from "../../../src/platform/random/index.ts";
import { openStore } from "../../../src/platform/storage/index.ts";
import { eventually, SERVICES, serviceAvailable, uniqueName } from "../../support/services.ts";
import { checkout, inParallel } from "./harness.ts";

const bin = new URL("../../../bin/bulwark.js", import.meta.url).pathname;
const postgres = await serviceAvailable("postgres");
const nats = postgres ? await serviceAvailable("nats") : false;
const KILLS_PER_ROLE = Number(process.env.BULWARK_CRASH_KILLS ?? 6);

/**
 * A free port below the kernel's ephemeral range (32768+), so no other test's listen(0) can take it while a
 * killed service is being restarted on it.
 */
async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

interface Proc {
  role: string;
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<void>;
}

function serve(role: string, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [bin, "serve", role], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => {
    err += d;
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      if (out.includes('"ready":true')) resolve();
    });
    child.on("exit", (code) =>
      reject(new Error(`${role} exited (${code}) before ready: ${err.slice(-2000)}`)),
    );
  });
  ready.catch(() => {});
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return { role, child, ready, exited };
}

const profiles = [
  { name: "embedded (SQLite + embedded log)", profile: "embedded", run: true },
  { name: "distributed (Postgres + JetStream)", profile: "distributed", run: nats },
];

describe.each(profiles.filter((p) => p.run))("commerce crash recovery on $name", ({ profile }) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it(`survives ${KILLS_PER_ROLE} SIGKILLs each of the order and payment processes under load`, {
    timeout: 300_000,
  }, async () => {
    const ports = {
      order: await freePort(),
      inventory: await freePort(),
      payment: await freePort(),
      gateway: await freePort(),
    };
    const env: Record<string, string> = {
      BULWARK_PROFILE: profile,
      BULWARK_DATA_DIR: mkdtempSync(join(tmpdir(), "bulwark-crash-")),
      BULWARK_LOG_LEVEL: "error",
      BULWARK_ADMIN_ENABLED: "false",
      BULWARK_COMMERCE_PORTS_ORDER: String(ports.order),
      BULWARK_COMMERCE_PORTS_INVENTORY: String(ports.inventory),
      BULWARK_COMMERCE_PORTS_PAYMENT: String(ports.payment),
      BULWARK_COMMERCE_PORTS_GATEWAY: String(ports.gateway),
      BULWARK_COMMERCE_SAGA_DEADLINE_MS: "3000",
      BULWARK_COMMERCE_SWEEP_INTERVAL_MS: "200",
      BULWARK_COMMERCE_GATEWAY_FAULTS_LATENCY_MAX_MS: "30",
      BULWARK_COMMERCE_GATEWAY_FAULTS_ERROR_RATE: "0.1",
    };
    if (profile === "distributed") {
      const namespace = uniqueName("crash");
      env.BULWARK_DATABASE_SCHEMA = namespace;
      // The services name their streams after the schema; left behind, they pile up on the server.
      cleanups.push(async () => {
        const streams = await jetStreamDriver({ servers: SERVICES.nats.url, namespace });
        await streams.deleteNamespace();
        await streams.close();
      });
    }
    const procs = new Map<string, Proc>();
    const start = async (role: string) => {
      // A restarted service takes its old port again; seen on CI once in a few runs, something briefly
      // still holds it. Retry that case for a few seconds; any other start failure fails the test.
      for (let attempt = 1; ; attempt++) {
        const p = serve(role, env);
        procs.set(role, p);
        try {
          await p.ready;
          return;
        } catch (err) {
          if (attempt >= 20 || !/EADDRINUSE/.test((err as Error).message)) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    };
    cleanups.push(async () => {
      for (const p of procs.values()) p.child.kill("SIGKILL");
    });
    // The gateway first (it owns its own store), then inventory; the killed roles last.
    await start("commerce:gateway");
    await start("commerce:inventory");
    await start("commerce:payment");
    await start("commerce:order");

    const base = `http://127.0.0.1:${ports.order}`;
    const accepted = new Set<string>();
    let loadRunning = true;
    const skus = ["KEYBOARD-01", "MOUSE-01", "MONITOR-27", "CONSOLE-PS5"];
    const buyer = async (i: number) => {
      // A client that retries with the same key until the order service answers: a real checkout page.
      const key = `crash-${i}`;
      const body = JSON.stringify(checkout(skus[i % skus.length]!, 1 + (i % 2), "tok_visa", `buyer-${i}`));
      for (;;) {
        try {
          const res = await fetch(`${base}/orders`, {
            method: "POST",
            headers: { "content-type": "application/json", "idempotency-key": key },
            body,
            signal: AbortSignal.timeout(5_000),
          });
          if (res.status === 202) {
            accepted.add(((await res.json()) as { orderId: string }).orderId);
            return;
          }
        } catch {
          // the order process is down or was killed mid-request: retry with the same key
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    let next = 0;
    const load = inParallel(8, 8, async () => {
      while (loadRunning) await buyer(next++);
    });

    const random = seededRandom(2026);
    let kills = 0;
    for (let round = 0; round < KILLS_PER_ROLE * 2; round++) {
      const role = round % 2 === 0 ? "commerce:payment" : "commerce:order";
      await new Promise((r) => setTimeout(r, 200 + random() * 600));
      const victim = procs.get(role)!;
      victim.child.kill("SIGKILL");
      await victim.exited;
      kills++;
      await start(role);
    }
    loadRunning = false;
    await load;
    expect(kills).toBe(KILLS_PER_ROLE * 2);
    expect(accepted.size).toBeGreaterThan(10);

    const config = loadAppConfig({ env });
    const store = await openStore(storeConfigFor(config));
    const gatewayStore = await openStore(storeConfigFor(config, "gateway"));
    cleanups.push(async () => {
      await store.close();
      await gatewayStore.close();
    });
    // Every accepted order reaches a final state and every compensation (refund, restock) completes,
    // with no violation of any invariant.
    let last: Awaited<ReturnType<typeof checkCommerce>> | undefined;
    const result = await eventually(
      async () => {
        last = await checkCommerce(store, gatewayStore, { graceMs: 10_000 });
        return last.orders.PENDING === 0 && last.ok ? last : undefined;
      },
      {
        timeoutMs: 120_000,
        intervalMs: 500,
        message: "all orders and compensations to settle after the kills",
      },
    ).catch((err) => {
      console.log("last check:", JSON.stringify(last, null, 1).slice(0, 4_000));
      throw err;
    });
    const ids = (await store.db.selectFrom("ord_orders").select("id").execute()).map(
      (r: { id: string }) => r.id,
    );
    console.log(
      `${profile}: ${kills} kills, ${accepted.size} orders accepted →`,
      JSON.stringify(result.orders),
      JSON.stringify(result.charges),
    );
    expect([...accepted].filter((id) => !ids.includes(id))).toEqual([]); // no lost order
    expect(result.violations).toEqual([]);
    expect(result.ok).toBe(true);
    for (const p of procs.values()) {
      p.child.kill("SIGTERM");
      await p.exited;
    }
  });
});

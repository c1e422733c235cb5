import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { Kysely } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { loadAppConfig, storeConfigFor } from "../../../src/app/index.ts";
import type { LedgerDb } from "../../../src/cases/banking/accounts/migrations.ts";
import { BANKING_ROLES } from "../../../src/cases/banking/system.ts";
import { seededRandom } from "../../../src/platform/random/index.ts";
import { openStore } from "../../../src/platform/storage/index.ts";
import { SupervisorClient } from "../../../src/platform/supervisor/index.ts";
import { eventually, serviceAvailable, uniqueName } from "../../support/services.ts";

const bin = new URL("../../../bin/bulwark.js", import.meta.url).pathname;
const nats = (await serviceAvailable("postgres")) && (await serviceAvailable("nats"));
const ROUNDS = Number(process.env.BULWARK_BANKING_KILL_ROUNDS ?? 2);
/**
 * The acceptance bound, asserted for every restart: 5 s from SIGKILL to ready again. A restart costs the
 * supervisor's backoff (100 ms, doubling while a service keeps dying within 10 s) plus a cold `bulwark serve`
 * (~0.7–0.9 s on an idle machine). This file runs in the "timing" project, alone after every other suite,
 * with only the banking services under `bulwark up`: restarts measured 1.2–2.3 s there.
 */
const READY_WITHIN_MS = 5_000;
const SERVICE_KEY = "banking-kill-service-key-0123";

/** Free ports from 41000–42999 (the fixed-port range for tests), so no listen(0) elsewhere takes them. */
async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) {
    const port = 41_000 + Math.floor(Math.random() * 2_000);
    if (ports.includes(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) ports.push(port);
  }
  return ports;
}

const DEMO = {
  alice: {
    clientId: "alice-app",
    clientSecret: "alice-demo-secret",
    from: ["alice-checking", "alice-savings"],
  },
  bob: { clientId: "bob-app", clientSecret: "bob-demo-secret", from: ["bob-checking"] },
  carol: { clientId: "carol-app", clientSecret: "carol-demo-secret", from: ["carol-checking"] },
} as const;
type Customer = keyof typeof DEMO;
const ALL_ACCOUNTS = ["alice-checking", "alice-savings", "bob-checking", "carol-checking"];

const profiles = [
  { name: "embedded (SQLite)", profile: "embedded", run: true },
  { name: "distributed (Postgres + JetStream)", profile: "distributed", run: nats },
];

describe.each(profiles.filter((p) => p.run))("banking kill test under bulwark up on $name", ({ profile }) => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it(`SIGKILLs each banking service ${ROUNDS}x while transfers flow: ready again within 5 s, every acknowledged transfer applied once`, {
    timeout: 240_000,
  }, async () => {
    const [consolePort, ...ports] = await freePorts(1 + BANKING_ROLES.length);
    const portOf = Object.fromEntries(BANKING_ROLES.map((r, i) => [r, ports[i]!])) as Record<string, number>;
    const dataDir = mkdtempSync(join(tmpdir(), "bulwark-bank-kill-"));
    const env: Record<string, string> = {
      BULWARK_PROFILE: profile,
      BULWARK_DATA_DIR: dataDir,
      BULWARK_LOG_LEVEL: "error",
      BULWARK_ADMIN_ENABLED: "false",
      // Only banking: the other cases' processes would share the 2 cores during the restarts measured here.
      BULWARK_COMMERCE_ENABLED: "false",
      BULWARK_ANALYTICS_ENABLED: "false",
      BULWARK_HTTP_PORT: String(consolePort),
      BULWARK_AUTH_SERVICE_KEYS: SERVICE_KEY,
      // Half the clients go through the gateway; its per-client limit is not what this test is about.
      BULWARK_BANKING_RATE_LIMIT_PER_SECOND: "100000",
      BULWARK_BANKING_RATE_LIMIT_BURST: "100000",
      ...Object.fromEntries(
        BANKING_ROLES.map((r) => [`BULWARK_BANKING_PORTS_${r.toUpperCase()}`, String(portOf[r])]),
      ),
    };
    if (profile === "distributed") env.BULWARK_DATABASE_SCHEMA = uniqueName("bankkill");
    const stateFile = join(dataDir, "supervisor.json");
    const up: ChildProcess = spawn(
      process.execPath,
      [bin, "up", "--enable-faults", "--state-file", stateFile],
      {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    const keep = (d: Buffer) => {
      output = (output + d).slice(-20_000);
    };
    up.stdout!.on("data", keep);
    up.stderr!.on("data", keep);
    const upExited = new Promise<number | null>((resolve) => up.on("exit", (code) => resolve(code)));
    let childPids: number[] = [];
    cleanups.push(async () => {
      if (up.exitCode === null) {
        // SIGTERM: the supervisor stops its children; SIGKILL only if it does not, and then the children too.
        up.kill("SIGTERM");
        const stopped = await Promise.race([
          upExited.then(() => true),
          new Promise((r) => setTimeout(r, 20_000, false)),
        ]);
        if (!stopped) {
          for (const pid of childPids) {
            try {
              process.kill(pid, "SIGKILL");
            } catch {
              // already gone
            }
          }
          up.kill("SIGKILL");
          await upExited;
        }
      }
    });

    const base = (role: string) => `http://127.0.0.1:${portOf[role]}`;
    const ready = async (role: string) => {
      try {
        const res = await fetch(`${base(role)}/health/ready`, { signal: AbortSignal.timeout(1_000) });
        return res.status === 200;
      } catch {
        return false;
      }
    };
    await eventually(() => existsSync(stateFile), {
      timeoutMs: 30_000,
      message: "the supervisor state file",
    });
    // The file may be seen half-written: wait until it parses and the control API answers.
    const supervisor = await eventually(
      async () => {
        const client = await SupervisorClient.fromStateFile(stateFile);
        childPids = (await client.status()).processes.flatMap((p) => (p.pid ? [p.pid] : []));
        return client;
      },
      { timeoutMs: 30_000, intervalMs: 100, message: "the supervisor's control API" },
    );
    await eventually(async () => (await Promise.all(BANKING_ROLES.map(ready))).every(Boolean), {
      timeoutMs: 60_000,
      intervalMs: 100,
      message: "every banking service ready under bulwark up",
    }).catch(async (err) => {
      const notReady = [];
      for (const role of BANKING_ROLES) if (!(await ready(role))) notReady.push(role);
      console.log(`not ready: ${notReady.join(", ")}; load average ${loadavg()[0]!.toFixed(1)}`);
      console.log(JSON.stringify((await supervisor.status().catch((e) => String(e))) as unknown));
      console.log(
        output
          .split("\n")
          .filter((l) => !l.includes('"component":"supervisor"'))
          .slice(-30)
          .join("\n"),
      );
      throw err;
    });

    // The client: transfers with an Idempotency-Key, retried with the same key until a final answer.
    const tokens = new Map<Customer, string>();
    const tokenOf = async (who: Customer): Promise<string> => {
      for (;;) {
        const cached = tokens.get(who);
        if (cached) return cached;
        try {
          const res = await fetch(`${base("auth")}/token`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ clientId: DEMO[who].clientId, clientSecret: DEMO[who].clientSecret }),
            signal: AbortSignal.timeout(5_000),
          });
          if (res.status === 200)
            tokens.set(who, ((await res.json()) as { access_token: string }).access_token);
        } catch {
          // auth is down: try again
        }
        if (!tokens.has(who)) await new Promise((r) => setTimeout(r, 100));
      }
    };
    const acknowledged = new Map<string, { transferId: string; who: Customer }>();
    const refused = new Map<string, Customer>();
    const attempts = { total: 0, failed: 0 };
    const random = seededRandom(7);
    let running = true;
    let sent = 0;
    const throughGateway = new Set<string>();
    const client = async (worker: number) => {
      // Odd workers send through the edge gateway (which retries a keyed POST), even ones straight to accounts.
      const viaGateway = worker % 2 === 1;
      const customers = Object.keys(DEMO) as Customer[];
      while (running) {
        const who = customers[(worker + sent) % customers.length]!;
        const from = DEMO[who].from[sent % DEMO[who].from.length]!;
        const to = ALL_ACCOUNTS.filter((a) => a !== from)[Math.floor(random() * 3)]!;
        const key = `kill-${worker}-${sent++}`;
        const body = JSON.stringify({
          fromAccountId: from,
          toAccountId: to,
          amountCents: 1 + Math.floor(random() * 500),
        });
        for (;;) {
          attempts.total++;
          try {
            const res = await fetch(
              viaGateway ? `${base("gateway")}/api/transfers` : `${base("accounts")}/transfers`,
              {
                method: "POST",
                headers: {
                  "content-type": "application/json",
                  authorization: `Bearer ${await tokenOf(who)}`,
                  "idempotency-key": key,
                },
                body,
                signal: AbortSignal.timeout(5_000),
              },
            );
            if (res.status === 201) {
              acknowledged.set(key, {
                transferId: ((await res.json()) as { transferId: string }).transferId,
                who,
              });
              if (viaGateway) throughGateway.add(key);
              break;
            }
            if (res.status === 422) {
              refused.set(key, who);
              break;
            }
            await res.body?.cancel();
          } catch {
            // killed mid-request or down: retry with the same key
          }
          attempts.failed++;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(client));

    const restarts: Array<{ role: string; readyMs: number }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const role of BANKING_ROLES) {
        await new Promise((r) => setTimeout(r, 300 + random() * 400));
        const acknowledgedBefore = acknowledged.size;
        const before = (await supervisor.status()).processes.find((p) => p.name === `banking-${role}`)!;
        const killedAt = performance.now();
        await supervisor.fault("kill", `banking-${role}`);
        expect(await ready(role)).toBe(false);
        await eventually(() => ready(role), {
          timeoutMs: 30_000,
          intervalMs: 20,
          message: `banking-${role} ready again after SIGKILL`,
        });
        const readyMs = Math.round(performance.now() - killedAt);
        restarts.push({ role, readyMs });
        const status = (await supervisor.status()).processes;
        childPids = status.flatMap((p) => (p.pid ? [p.pid] : []));
        const after = status.find((p) => p.name === `banking-${role}`)!;
        expect(after.pid).not.toBe(before.pid);
        expect(after.restarts).toBe(before.restarts + 1);
        // The load keeps making progress between kills (it is not stuck behind a dead key).
        if (role === "accounts") {
          await eventually(() => acknowledged.size > acknowledgedBefore, {
            timeoutMs: 20_000,
            message: "transfers to be acknowledged again after accounts came back",
          });
        }
      }
    }
    running = false;
    await load;

    console.log(
      `${profile}: restart → ready (ms): ${restarts.map((r) => `${r.role} ${r.readyMs}`).join(", ")}; ` +
        `max ${Math.max(...restarts.map((r) => r.readyMs))}; ${acknowledged.size} transfers acknowledged ` +
        `(${throughGateway.size} through the gateway), ` +
        `${refused.size} refused (funds), ${attempts.failed}/${attempts.total} attempts failed and were retried; ` +
        `load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`,
    );
    expect(restarts).toHaveLength(ROUNDS * BANKING_ROLES.length);
    for (const r of restarts) expect(r.readyMs, `${r.role} ready again`).toBeLessThanOrEqual(READY_WITHIN_MS);
    expect(acknowledged.size).toBeGreaterThan(20);
    expect(throughGateway.size).toBeGreaterThan(5);

    // Every acknowledged transfer is in the ledger exactly once, under its key; a refused one is not at all.
    const config = loadAppConfig({ env });
    const store = await openStore(storeConfigFor(config));
    cleanups.push(() => store.close());
    const rows = await (store.db as Kysely<LedgerDb>)
      .selectFrom("bank_transfers")
      .select(["id", "idempotency_key"])
      .where("idempotency_key", "like", "%:kill-%")
      .execute();
    const byKey = new Map(rows.map((r) => [r.idempotency_key!.replace(/^[^:]+:/, ""), r.id]));
    expect(rows.length).toBe(byKey.size);
    for (const [key, { transferId }] of acknowledged) expect(byKey.get(key), key).toBe(transferId);
    for (const key of refused.keys()) expect(byKey.has(key), key).toBe(false);
    expect(rows.length).toBe(acknowledged.size);

    const check = spawnSync(process.execPath, [bin, "check", "banking"], {
      env: { ...process.env, ...env },
      encoding: "utf8",
    });
    const verdict = JSON.parse(check.stdout) as { ok: boolean; transfers: number; violations: unknown[] };
    expect(verdict.violations).toEqual([]);
    expect(check.status).toBe(0);
    expect(verdict.transfers).toBe(acknowledged.size);

    up.kill("SIGTERM");
    expect(await upExited).toBe(0);
  });
});

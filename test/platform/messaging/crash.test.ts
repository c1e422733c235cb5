import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { Inbox, jetStreamDriver } from "../../../src/platform/messaging/index.ts";
import { openStore } from "../../../src/platform/storage/index.ts";
import { systemClock } from "../../../src/platform/time/index.ts";
import { eventually, SERVICES, serviceAvailable, uniqueName } from "../../support/services.ts";
import { type CrashConfig, openCrashProfile } from "./fixtures/crash-profile.ts";

const writer = fileURLToPath(new URL("./fixtures/crash-writer.ts", import.meta.url));
// At least 20 kills is the acceptance bar; BWK_CRASH_KILLS can raise it for a soak run, never below 20.
const KILLS = Math.max(20, Number(process.env.BWK_CRASH_KILLS ?? 22));

function start(config: CrashConfig, mode: "write" | "drain"): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [writer, mode], {
    env: { ...process.env, BWK_CRASH_CONFIG: JSON.stringify(config) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d) => {
    output += d;
  });
  child.stderr!.on("data", (d) => {
    output += d;
  });
  return { child, output: () => output };
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/**
 * Children write state + outbox rows and consume through the inbox; each is SIGKILLed at a random moment
 * and replaced. The parent is one more group member. Afterwards every committed state row must have
 * exactly one effect: Jepsen's total-queue check (lost, duplicated, unexpected).
 */
async function crashScenario(config: CrashConfig) {
  const parent = await openCrashProfile(config);
  const inbox = new Inbox(parent.store);
  let skipped = 0;
  const subscription = parent.bus.subscribe({
    topic: config.topic,
    group: "effects",
    member: "parent",
    handler: async (message) => {
      const outcome = await inbox.handleOnce("effects", message, (trx) =>
        trx
          .insertInto("crash_effect")
          .values({ state_id: (message.payload as { stateId: string }).stateId, member: "parent" })
          .execute(),
      );
      if (outcome.duplicate) skipped++;
    },
  });
  try {
    for (let kill = 0; kill < KILLS; kill++) {
      const { child, output } = start(config, "write");
      await eventually(() => output().includes("ready") || child.exitCode !== null, {
        timeoutMs: 20_000,
        message: "child ready",
      });
      expect(child.exitCode, output()).toBeNull();
      // The kill lands anywhere: mid-transaction, mid-relay, mid-handler, mid-commit.
      await systemClock.sleep(Math.random() * 250);
      child.kill("SIGKILL");
      await exited(child);
    }
    const drain = start(config, "drain");
    expect(await exited(drain.child), drain.output()).toBe(0);

    const db = parent.store.db;
    const count = async (query: Promise<{ n: unknown } | undefined>) => Number((await query)?.n ?? 0);
    const lost = () =>
      count(
        db
          .selectFrom("crash_state as s")
          .select((eb) => eb.fn.countAll().as("n"))
          .where((eb) =>
            eb.not(
              eb.exists(
                eb.selectFrom("crash_effect as e").select("e.state_id").whereRef("e.state_id", "=", "s.id"),
              ),
            ),
          )
          .executeTakeFirst(),
      );
    await eventually(async () => (await lost()) === 0, {
      timeoutMs: 45_000,
      message: "every state has its effect",
    });
    const states = await count(
      db
        .selectFrom("crash_state")
        .select((eb) => eb.fn.countAll().as("n"))
        .executeTakeFirst(),
    );
    const duplicated = await db
      .selectFrom("crash_effect")
      .select(["state_id", (eb) => eb.fn.countAll().as("n")])
      .groupBy("state_id")
      .having((eb) => eb.fn.countAll(), ">", 1)
      .execute();
    const unexpected = await count(
      db
        .selectFrom("crash_effect as e")
        .select((eb) => eb.fn.countAll().as("n"))
        .where((eb) =>
          eb.not(
            eb.exists(eb.selectFrom("crash_state as s").select("s.id").whereRef("s.id", "=", "e.state_id")),
          ),
        )
        .executeTakeFirst(),
    );
    const members = await db.selectFrom("crash_effect").select("member").distinct().execute();
    console.log(
      `crash ${config.profile}: ${KILLS} kills, ${states} states, 0 lost, ${duplicated.length} duplicated, ` +
        `${unexpected} unexpected, ${skipped} redeliveries skipped by the parent's inbox, ${members.length} members applied effects`,
    );
    expect(states).toBeGreaterThan(KILLS * 3);
    expect(duplicated).toEqual([]);
    expect(unexpected).toBe(0);
    expect(await lost()).toBe(0);
  } finally {
    await subscription.stop();
    await parent.close();
  }
}

describe("crash: SQLite + embedded log", () => {
  it(`loses nothing and duplicates no effect across ${KILLS} SIGKILLs`, { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "bwk-crash-"));
    try {
      await crashScenario({
        profile: "sqlite-embedded",
        sqliteFile: join(dir, "crash.db"),
        namespace: "unused",
        topic: "states",
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const ok = (await serviceAvailable("postgres")) && (await serviceAvailable("nats"));

describe.skipIf(!ok)("crash: Postgres + JetStream", () => {
  it(`loses nothing and duplicates no effect across ${KILLS} SIGKILLs`, { timeout: 120_000 }, async () => {
    const schema = uniqueName("crash")
      .toLowerCase()
      .replace(/[^a-z0-9_]/g, "_");
    const namespace = uniqueName("crash").replace(/[^A-Za-z0-9_-]/g, "_");
    try {
      await crashScenario({
        profile: "postgres-jetstream",
        postgresUrl: SERVICES.postgres.url,
        schema,
        natsUrl: SERVICES.nats.url,
        namespace,
        topic: "states",
      });
    } finally {
      const admin = await openStore({ kind: "postgres", url: SERVICES.postgres.url, poolSize: 1 });
      await sql.raw(`drop schema if exists "${schema}" cascade`).execute(admin.db);
      await admin.close();
      const cleaner = await jetStreamDriver({ servers: SERVICES.nats.url, namespace });
      await cleaner.deleteNamespace();
      await cleaner.close();
    }
  });
});

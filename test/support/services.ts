import { Socket } from "node:net";

/** Real servers the integration suites talk to. Each suite isolates itself (schema, stream or key prefix). */
export const SERVICES = {
  postgres: {
    host: "127.0.0.1",
    port: 5432,
    url: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
  },
  redis: { host: "127.0.0.1", port: 6379, url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" },
  nats: { host: "127.0.0.1", port: 4222, url: process.env.NATS_URL ?? "nats://127.0.0.1:4222" },
} as const;

export type ServiceName = keyof typeof SERVICES;

const reachable = new Map<ServiceName, Promise<boolean>>();

function probe(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("error", () => done(false));
    socket.connect(port, host, () => done(true));
  });
}

/**
 * Whether the suite can run against `name`. When the service is down, prints a SKIP line
 * and returns false, unless BULWARK_REQUIRE_SERVICES is set: then it throws, so CI goes red.
 * Use with `describe.skipIf(!(await serviceAvailable("postgres")))`.
 */
export async function serviceAvailable(name: ServiceName): Promise<boolean> {
  let pending = reachable.get(name);
  if (!pending) {
    pending = probe(SERVICES[name].host, SERVICES[name].port);
    reachable.set(name, pending);
  }
  const ok = await pending;
  if (!ok) {
    const where = `${SERVICES[name].host}:${SERVICES[name].port}`;
    if (process.env.BULWARK_REQUIRE_SERVICES) {
      throw new Error(`${name} is required (BULWARK_REQUIRE_SERVICES is set) but ${where} is unreachable`);
    }
    console.warn(
      `SKIP: ${name} unreachable at ${where}; its suites are skipped (set BULWARK_REQUIRE_SERVICES=1 to fail instead)`,
    );
  }
  return ok;
}

/** A short unique name for a schema, stream or key prefix owned by one suite run. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Polls `check` until it returns a truthy value or the deadline passes; no fixed sleeps. */
export async function eventually<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 10, message = "condition" } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}`, { cause: last });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

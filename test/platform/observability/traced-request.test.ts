import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { tracedRequest } from "../../../src/platform/observability/propagation.ts";

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<URL> {
  const server = createServer(handler);
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
}

const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;

describe("tracedRequest's timeoutMs", () => {
  it("ends a request that gets no answer with a TimeoutError, and closes its connection", async () => {
    let closed = false;
    const url = await serve((req) => req.socket.on("close", () => (closed = true)));
    const started = performance.now();
    const error = await tracedRequest(url, { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe("TimeoutError");
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    await expect.poll(() => closed, { timeout: 2_000 }).toBe(true);
  });

  it("clears its timer once the answer has arrived", async () => {
    const url = await serve((_req, res) => res.end("pong"));
    const before = timers();
    const response = await tracedRequest(url, { method: "POST", body: "ping", timeoutMs: 60_000 });
    expect(response).toMatchObject({ status: 200, text: "pong" });
    // The timer is cleared on the request's close, which follows the response's end.
    await expect.poll(timers, { timeout: 2_000 }).toBeLessThanOrEqual(before);
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FaultProxyServer } from "../../../src/platform/chaos/index.ts";
import { eventually } from "../../support/services.ts";
import { record, startEchoServer, startSendingServer, type TestServer } from "./sockets.ts";

let echo: TestServer;
let proxies: FaultProxyServer;

beforeAll(async () => {
  echo = await startEchoServer();
});
afterAll(async () => {
  await echo.close();
});
afterEach(async () => {
  await proxies?.close();
});

async function proxyTo(port: number): Promise<number> {
  proxies = new FaultProxyServer();
  const info = await proxies.createProxy({ name: "p", listen: "127.0.0.1:0", upstream: `127.0.0.1:${port}` });
  return Number(info.listen.split(":")[1]);
}

async function roundTrip(port: number, message = "ping"): Promise<number> {
  const client = await record(port);
  const start = performance.now();
  client.socket.write(message);
  const at = await client.waitForBytes(message.length);
  expect(client.text()).toBe(message);
  client.socket.destroy();
  return at - start;
}

describe("fault proxy toxics, through real sockets", () => {
  it("passes data through untouched without toxics", async () => {
    const port = await proxyTo(echo.port);
    expect(await roundTrip(port, "hello bulwark")).toBeLessThan(1_000);
  });

  it("latency delays each chunk within [latency - jitter, latency + jitter)", async () => {
    const port = await proxyTo(echo.port);
    await proxies.addToxic("p", { type: "latency", attributes: { latency: 200, jitter: 50 } });
    const samples: number[] = [];
    for (let i = 0; i < 8; i++) samples.push(await roundTrip(port));
    // Lower bound is hard (timers never fire early, allowing 2 ms of rounding); the upper one allows noise.
    for (const rtt of samples) {
      expect(rtt).toBeGreaterThanOrEqual(148);
      expect(rtt).toBeLessThan(250 + 150);
    }
    expect(Math.max(...samples) - Math.min(...samples)).toBeGreaterThan(0);
  });

  it("latency on the upstream stream delays client→server data", async () => {
    const port = await proxyTo(echo.port);
    await proxies.addToxic("p", { type: "latency", stream: "upstream", attributes: { latency: 150 } });
    const rtt = await roundTrip(port);
    expect(rtt).toBeGreaterThanOrEqual(148);
    expect(rtt).toBeLessThan(150 + 300);
  });

  it("bandwidth caps throughput within ±20% of the rate", async () => {
    const payload = Buffer.alloc(200_000, 7);
    const sender = await startSendingServer(payload);
    try {
      const port = await proxyTo(sender.port);
      await proxies.addToxic("p", { type: "bandwidth", attributes: { rate: 100 } });
      const client = await record(port);
      const { at } = await client.closed;
      expect(client.bytes()).toBe(payload.length);
      const kbPerSecond = payload.length / 1000 / ((at - client.startedAt) / 1000);
      expect(kbPerSecond).toBeGreaterThan(80);
      expect(kbPerSecond).toBeLessThan(120);
    } finally {
      await sender.close();
    }
  });

  it("slow_close delays the close after the data", async () => {
    const sender = await startSendingServer(Buffer.from("bye"));
    try {
      const port = await proxyTo(sender.port);
      await proxies.addToxic("p", { type: "slow_close", attributes: { delay: 400 } });
      const client = await record(port);
      await client.closed;
      expect(client.text()).toBe("bye");
      const heldFor = client.endedAt! - client.chunks[0]!.at;
      expect(heldFor).toBeGreaterThanOrEqual(390);
      expect(heldFor).toBeLessThan(400 + 1_000);
    } finally {
      await sender.close();
    }
  });

  it("timeout drops the data and closes the connection after the timeout", async () => {
    const port = await proxyTo(echo.port);
    await proxies.addToxic("p", { type: "timeout", attributes: { timeout: 300 } });
    const client = await record(port);
    client.socket.write("lost");
    const { at } = await client.closed;
    expect(client.bytes()).toBe(0);
    expect(at - client.startedAt).toBeGreaterThanOrEqual(290);
    expect(at - client.startedAt).toBeLessThan(300 + 1_000);
  });

  it("timeout 0 holds the connection, dropping data, until the toxic is removed", async () => {
    const port = await proxyTo(echo.port);
    await proxies.addToxic("p", { name: "hang", type: "timeout", attributes: { timeout: 0 } });
    const client = await record(port);
    const echoedBefore = echo.received();
    client.socket.write("dropped");
    // The echo server got it and answered; the answer was dropped on the way back.
    await eventually(() => echo.received() >= echoedBefore + 7, { message: "echo server got the data" });
    const quiet = await Promise.race([
      client.closed.then(() => "closed"),
      new Promise((r) => setTimeout(() => r("held"), 300)),
    ]);
    expect(quiet).toBe("held");
    expect(client.bytes()).toBe(0);
    await proxies.removeToxic("p", "hang");
    client.socket.write("after");
    await client.waitForBytes(5);
    expect(client.text()).toBe("after");
    client.socket.destroy();
  });

  it("reset_peer resets the connection with ECONNRESET, at once or after the timeout", async () => {
    const port = await proxyTo(echo.port);
    await proxies.addToxic("p", { name: "rst", type: "reset_peer", attributes: { timeout: 0 } });
    const now = await record(port);
    now.socket.write("x");
    expect((await now.closed).error?.code).toBe("ECONNRESET");
    expect(now.bytes()).toBe(0);

    await proxies.updateToxic("p", "rst", { attributes: { timeout: 300 } });
    const later = await record(port);
    const sentAt = performance.now();
    later.socket.write("x");
    const { at, error } = await later.closed;
    expect(error?.code).toBe("ECONNRESET");
    expect(at - sentAt).toBeGreaterThanOrEqual(290);
  });

  it("slicer fragments writes into small delayed slices, losing nothing", async () => {
    const payload = Buffer.from(Array.from({ length: 5_000 }, (_, i) => i % 251));
    const sender = await startSendingServer(payload);
    try {
      const port = await proxyTo(sender.port);
      await proxies.addToxic("p", {
        type: "slicer",
        attributes: { average_size: 100, size_variation: 20, delay: 2_000 },
      });
      const client = await record(port);
      const { at } = await client.closed;
      expect(Buffer.concat(client.chunks.map((c) => c.data)).equals(payload)).toBe(true);
      // About 50 slices 2 ms apart; the receiver may coalesce a few under load.
      expect(client.chunks.length).toBeGreaterThanOrEqual(20);
      expect(at - client.startedAt).toBeGreaterThanOrEqual(40 * 2);
    } finally {
      await sender.close();
    }
  });

  it("limit_data lets exactly N bytes through, then closes", async () => {
    const sender = await startSendingServer(Buffer.alloc(5_000, 1));
    try {
      const port = await proxyTo(sender.port);
      await proxies.addToxic("p", { type: "limit_data", attributes: { bytes: 1_234 } });
      const client = await record(port);
      await client.closed;
      expect(client.bytes()).toBe(1_234);
    } finally {
      await sender.close();
    }
  });

  it("applies toxicity per connection: 200 connections at 0.5 → 35%..65% affected", async () => {
    const port = await proxyTo(echo.port);
    await proxies.addToxic("p", { type: "limit_data", toxicity: 0.5, attributes: { bytes: 0 } });
    let affected = 0;
    for (let batch = 0; batch < 10; batch++) {
      const results = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const client = await record(port);
          client.socket.end("ping");
          await client.closed;
          return client.text() === "ping" ? 0 : 1;
        }),
      );
      affected += results.reduce<number>((a, b) => a + b, 0);
    }
    expect(affected).toBeGreaterThanOrEqual(70);
    expect(affected).toBeLessThanOrEqual(130);
  });

  it("toxicity 0 and 1 are never and always", async () => {
    const port = await proxyTo(echo.port);
    const count = async () => {
      let n = 0;
      for (let i = 0; i < 20; i++) {
        const client = await record(port);
        client.socket.end("ping");
        await client.closed;
        if (client.text() !== "ping") n++;
      }
      return n;
    };
    await proxies.addToxic("p", { name: "cut", type: "limit_data", toxicity: 0, attributes: { bytes: 0 } });
    expect(await count()).toBe(0);
    await proxies.updateToxic("p", "cut", { toxicity: 1 });
    expect(await count()).toBe(20);
  });
});

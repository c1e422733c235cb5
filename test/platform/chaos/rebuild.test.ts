import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FaultProxyServer, type ToxicInput } from "../../../src/platform/chaos/index.ts";
import { eventually } from "../../support/services.ts";
import { record, startEchoServer, type TestServer } from "./sockets.ts";

let echo: TestServer;
beforeAll(async () => {
  echo = await startEchoServer();
});
afterAll(() => echo.close());

const toxics: ToxicInput[] = [
  { name: "lat", type: "latency", attributes: { latency: 20, jitter: 10 } },
  { name: "lat-up", type: "latency", stream: "upstream", attributes: { latency: 10 } },
  { name: "slice", type: "slicer", attributes: { average_size: 64, size_variation: 32, delay: 1_000 } },
  { name: "bw", type: "bandwidth", attributes: { rate: 500 } },
  { name: "slice-up", type: "slicer", stream: "upstream", attributes: { average_size: 200, delay: 0 } },
];

describe("changing toxics on a live connection", () => {
  it("keeps what a later stage held when an earlier toxic is removed", async () => {
    const server = new FaultProxyServer();
    try {
      const proxy = await server.createProxy({ name: "p", upstream: `127.0.0.1:${echo.port}` });
      await server.addToxic("p", {
        name: "slice",
        type: "slicer",
        attributes: { average_size: 100, delay: 2_000 },
      });
      await server.addToxic("p", { name: "slow", type: "latency", attributes: { latency: 300 } });
      const client = await record(Number(proxy.listen.split(":")[1]));
      const payload = Buffer.from(Array.from({ length: 3_000 }, (_, i) => i % 253));
      const before = echo.received();
      client.socket.write(payload);
      // The echo has answered: slices now sit in the latency stage and between the two stages.
      await eventually(() => echo.received() >= before + payload.length, { message: "echoed" });
      await server.removeToxic("p", "slice");
      await client.waitForBytes(payload.length);
      expect(Buffer.concat(client.chunks.map((c) => c.data)).equals(payload)).toBe(true);
      client.socket.destroy();
    } finally {
      await server.close();
    }
  });

  it("never loses, duplicates or reorders a byte", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 4_000 }), { minLength: 5, maxLength: 30 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: toxics.length - 1 }), fc.boolean()), { maxLength: 12 }),
        async (writes, changes) => {
          const server = new FaultProxyServer();
          try {
            const proxy = await server.createProxy({ name: "p", upstream: `127.0.0.1:${echo.port}` });
            const client = await record(Number(proxy.listen.split(":")[1]));
            const sent: Buffer[] = [];
            const active = new Set<string>();
            for (let i = 0; i < writes.length; i++) {
              const chunk = Buffer.alloc(writes[i]!, i % 251);
              sent.push(chunk);
              client.socket.write(chunk);
              // Let the data enter the pipeline, so toxic changes find stages holding some of it.
              await new Promise((resolve) => setTimeout(resolve, 2));
              const change = changes[i];
              if (!change) continue;
              const toxic = toxics[change[0]]!;
              if (active.has(toxic.name!)) {
                await server.removeToxic("p", toxic.name!);
                active.delete(toxic.name!);
              } else if (change[1]) {
                await server.addToxic("p", toxic);
                active.add(toxic.name!);
              }
            }
            const expected = Buffer.concat(sent);
            await client.waitForBytes(expected.length);
            expect(Buffer.concat(client.chunks.map((c) => c.data)).equals(expected)).toBe(true);
            client.socket.destroy();
          } finally {
            await server.close();
          }
        },
      ),
      { numRuns: 8 },
    );
  });
});

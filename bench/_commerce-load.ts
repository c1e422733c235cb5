// The load generator of bench/commerce.ts in a process of its own, so the clients' HTTP work does not share
// the commerce services' event loop. CONCURRENCY closed-loop clients each POST an order, tell the parent
// (IPC) its id and send time, and wait for the parent to say it was confirmed before the next.
import { Agent, request } from "node:http";

interface Start {
  url: string;
  orders: number;
  concurrency: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const waiting = new Map<string, () => void>();
const now = () => performance.timeOrigin + performance.now();

function post(url: URL, key: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          "idempotency-key": key,
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => {
          if (res.statusCode !== 202) reject(new Error(`POST /orders answered ${res.statusCode}: ${text}`));
          else resolve((JSON.parse(text) as { orderId: string }).orderId);
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

process.on("message", async (message: Start | { confirmed: string }) => {
  if ("confirmed" in message) {
    waiting.get(message.confirmed)?.();
    waiting.delete(message.confirmed);
    return;
  }
  const url = new URL("/orders", message.url);
  let next = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: message.concurrency }, async () => {
      while (next < message.orders) {
        const i = next++;
        const body = JSON.stringify({
          customerId: `c${i}`,
          items: [{ sku: `SKU-${i % 50}`, qty: 1 }],
          payment: { token: "tok_visa" },
        });
        const sentAt = now();
        const orderId = await post(url, `bench-${i}`, body);
        const confirmed = new Promise<void>((resolve) => waiting.set(orderId, resolve));
        process.send!({ orderId, sentAt });
        await confirmed;
      }
    }),
  );
  process.send!({ done: true, seconds: (now() - t0) / 1000 });
  agent.destroy();
  process.disconnect();
});

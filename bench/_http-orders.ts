// Keep-alive node:http POSTs of bench orders, for the commerce bench's clients (in its process or in
// _commerce-load.ts): cheaper per request than fetch, whose web streams showed in the bench's profile.
import { Agent, request } from "node:http";

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/** POSTs order `i` to `url` (…/orders) with its Idempotency-Key; resolves to the order id of the 202. */
export function postOrder(url: URL, i: number): Promise<string> {
  const body = JSON.stringify({
    customerId: `c${i}`,
    items: [{ sku: `SKU-${i % 50}`, qty: 1 }],
    payment: { token: "tok_visa" },
  });
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          "idempotency-key": `bench-${i}`,
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

export function closeClients(): void {
  agent.destroy();
}

// The load generator of bench/commerce.ts in a process of its own, so the clients' HTTP work does not share
// the commerce services' event loop. CONCURRENCY closed-loop clients each POST an order, tell the parent
// (IPC, batched per event-loop turn) its id and send time, and wait for the parent to say it was confirmed before the next.
import { closeClients, postOrder } from "./_http-orders.ts";
import { batchedSender } from "./_ipc-batch.ts";

interface Start {
  url: string;
  orders: number;
  concurrency: number;
}

const waiting = new Map<string, () => void>();
const now = () => performance.timeOrigin + performance.now();

const tellSent = batchedSender<{ orderId: string; sentAt: number }>((sent) => process.send!({ sent }));

process.on("message", async (message: Start | { confirmed: string[] }) => {
  if ("confirmed" in message) {
    for (const orderId of message.confirmed) {
      waiting.get(orderId)?.();
      waiting.delete(orderId);
    }
    return;
  }
  const url = new URL("/orders", message.url);
  let next = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: message.concurrency }, async () => {
      while (next < message.orders) {
        const i = next++;
        const sentAt = now();
        const orderId = await postOrder(url, i);
        const confirmed = new Promise<void>((resolve) => waiting.set(orderId, resolve));
        tellSent({ orderId, sentAt });
        await confirmed;
      }
    }),
  );
  process.send!({ done: true, seconds: (now() - t0) / 1000 });
  closeClients();
  process.disconnect();
});

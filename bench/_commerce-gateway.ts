// The payment-gateway simulator in a process of its own, for bench/commerce.ts: it stands for an external
// payment provider, which would not share the merchant's CPU. Prints its URL, then serves until killed.
import { createGatewayService } from "../src/cases/commerce/gateway/index.ts";
import { createLogger } from "../src/platform/observability/index.ts";
import { openStore } from "../src/platform/storage/index.ts";

const file = process.argv[2];
if (!file) throw new Error("usage: _commerce-gateway.ts <sqlite file>");
const store = await openStore({ kind: "sqlite", file });
const gateway = await createGatewayService({ store, logger: createLogger({ level: "error" }) });
process.stdout.write(`${await gateway.listen()}\n`);

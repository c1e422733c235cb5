export { assertLoopbackHost, bearerTokenGuard } from "./bearer-guard.ts";

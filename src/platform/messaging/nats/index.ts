export { type JetStreamDriver, type JetStreamDriverOptions, jetStreamDriver } from "./jetstream-driver.ts";

export { MemoryLogDriver } from "./memory-driver.ts";

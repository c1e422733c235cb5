export { type Clock, systemClock, type TimerHandle } from "./clock.ts";
export { FakeClock } from "./fake-clock.ts";

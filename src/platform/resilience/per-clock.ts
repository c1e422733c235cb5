import type { Clock } from "../time/index.ts";

/**
 * One instance per clock, created on first use: every policy on the same clock then shares one timer
 * wheel and one coarse clock, so a thousand timeouts cost one timer, not a thousand.
 */
export function perClock<T>(create: (clock: Clock) => T): (clock: Clock) => T {
  const shared = new WeakMap<Clock, T>();
  return (clock) => {
    let value = shared.get(clock);
    if (value === undefined) {
      value = create(clock);
      shared.set(clock, value);
    }
    return value;
  };
}

import type { Clock } from "../time/index.ts";
import { perClock } from "./per-clock.ts";

/** Something the wheel can expire. Set `done` when it settles first; the wheel then just drops it. */
export interface WheelEntry {
  /** Requested lifetime in milliseconds. */
  readonly ms: number;
  done: boolean;
  /** Absolute wheel tick at which it expires; set by the wheel on adoption, -1 before. */
  expiryTick: number;
  expire(): void;
}

const SLOTS = 512;
const MASK = SLOTS - 1;

/**
 * One timer for many deadlines. `add` only pushes onto a pending list: no timer, no clock read, no
 * listener. On each tick the wheel adopts the pending entries that are still running into hashed slots,
 * so calls that finish within one tick never touch a slot. Adoption happens after registration, and an
 * entry gets one extra tick, so a deadline never fires early; it fires at most about two ticks late.
 */
export class TimerWheel {
  readonly tickMs: number;
  readonly #clock: Clock;
  readonly #origin: number;
  #tick = 0;
  #pending: WheelEntry[] = [];
  #spare: WheelEntry[] = [];
  readonly #slots: WheelEntry[][] = Array.from({ length: SLOTS }, () => []);
  #live = 0;
  #armed = false;
  #compactAt = 4096;

  constructor(clock: Clock, tickMs = 4) {
    this.#clock = clock;
    this.tickMs = tickMs;
    this.#origin = clock.monotonic();
  }

  /** Number of entries registered and not yet known to be done (an upper bound). */
  get size(): number {
    return this.#live + this.#pending.length;
  }

  add(entry: WheelEntry): void {
    // A loop of calls that never yields to the event loop starves the tick; dropping finished entries
    // here keeps the pending list as short as the number of calls really in flight.
    if (this.#pending.push(entry) >= this.#compactAt) this.#compact();
    if (!this.#armed) {
      this.#armed = true;
      this.#clock.setTimeout(this.#onTick, this.tickMs);
    }
  }

  /** The monotonic time at which an adopted entry expires, or an estimate for a pending one. */
  deadlineOf(entry: WheelEntry): number {
    if (entry.expiryTick >= 0) return this.#origin + entry.expiryTick * this.tickMs;
    return this.#clock.monotonic() + entry.ms;
  }

  #compact(): void {
    const pending = this.#pending;
    let kept = 0;
    for (let i = 0; i < pending.length; i++) {
      const e = pending[i]!;
      if (!e.done) pending[kept++] = e;
    }
    pending.length = kept;
    this.#compactAt = Math.max(4096, kept * 2);
  }

  readonly #onTick = (): void => {
    this.#armed = false;
    const target = Math.floor((this.#clock.monotonic() - this.#origin) / this.tickMs);
    if (this.#live > 0) this.#expireUpTo(target);
    this.#tick = Math.max(this.#tick, target);
    this.#adopt();
    if (this.#live > 0 || this.#pending.length > 0) {
      this.#armed = true;
      this.#clock.setTimeout(this.#onTick, this.tickMs);
    }
  };

  #expireUpTo(target: number): void {
    const from = this.#tick + 1;
    const span = Math.min(target - from + 1, SLOTS);
    for (let i = 0; i < span; i++) {
      const slot = this.#slots[(from + i) & MASK]!;
      if (slot.length === 0) continue;
      let kept = 0;
      for (let j = 0; j < slot.length; j++) {
        const e = slot[j]!;
        if (e.done) {
          this.#live--;
        } else if (e.expiryTick <= target) {
          this.#live--;
          e.done = true;
          e.expire();
        } else {
          slot[kept++] = e;
        }
      }
      slot.length = kept;
    }
  }

  #adopt(): void {
    const pending = this.#pending;
    this.#pending = this.#spare;
    for (let i = 0; i < pending.length; i++) {
      const e = pending[i]!;
      if (e.done) continue;
      e.expiryTick = this.#tick + Math.ceil(e.ms / this.tickMs) + 1;
      this.#slots[e.expiryTick & MASK]!.push(e);
      this.#live++;
    }
    pending.length = 0;
    this.#spare = pending;
  }

  /** One wheel per clock, shared by every timeout, queue timeout and hedge on that clock. */
  static of: (clock: Clock) => TimerWheel = perClock((clock) => new TimerWheel(clock));
}

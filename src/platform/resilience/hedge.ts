import { type Clock, systemClock } from "../time/index.ts";
import { Call } from "./call.ts";
import { AbortedError } from "./errors.ts";
import { type Next, type Operation, StagePolicy } from "./policy.ts";
import { TimerWheel, type WheelEntry } from "./timer-wheel.ts";

export interface HedgeOptions {
  /** Start another attempt if none has answered after this many milliseconds. */
  delayMs: number;
  /** Extra attempts at most. Default 1. */
  maxHedges?: number;
  name?: string;
  clock?: Clock;
}

const LOST = new AbortedError("hedged attempt lost the race");

/** One hedged call: the wheel entry that launches the next attempt, and the race's bookkeeping. */
class Race<T> implements WheelEntry {
  readonly ms: number;
  done = false;
  expiryTick = -1;
  settled = false;
  running = 0;
  launched = 0;
  lastError: unknown = undefined;
  readonly attempts: Call[] = [];
  readonly policy: HedgePolicy;
  readonly fn: Operation<T>;
  readonly call: Call;
  readonly next: Next;
  readonly resolve: (v: T) => void;
  readonly reject: (e: unknown) => void;

  constructor(
    policy: HedgePolicy,
    fn: Operation<T>,
    call: Call,
    next: Next,
    resolve: (v: T) => void,
    reject: (e: unknown) => void,
  ) {
    this.ms = policy.delayMs;
    this.policy = policy;
    this.fn = fn;
    this.call = call;
    this.next = next;
    this.resolve = resolve;
    this.reject = reject;
  }

  launch(): void {
    const attempt = new Call(this.call);
    attempt.attempt = this.call.attempt + this.launched;
    this.launched++;
    this.running++;
    this.attempts.push(attempt);
    this.next.stage.run(this.fn, attempt, this.next.rest).then(
      (v) => this.win(attempt, v),
      (e) => this.lose(e),
    );
    if (this.launched <= this.policy.maxHedges) {
      this.done = false;
      this.expiryTick = -1;
      this.policy.wheel.add(this);
    }
  }

  expire(): void {
    if (this.settled) return;
    this.policy.hedges++;
    this.launch();
  }

  win(winner: Call, v: T): void {
    this.running--;
    if (this.settled) return;
    this.settled = true;
    this.done = true;
    for (const a of this.attempts) if (a !== winner) a.abort(LOST);
    this.resolve(v);
  }

  lose(e: unknown): void {
    this.running--;
    this.lastError = e;
    if (this.settled || this.running > 0) return;
    // Every launched attempt failed; a pending hedge would only repeat the failure, so give up now.
    this.settled = true;
    this.done = true;
    this.policy.failures++;
    this.reject(this.lastError);
  }
}

/**
 * Hedging: if the first attempt has not answered after `delayMs`, start another; the first success wins
 * and the others are aborted through their signals. Trades a little extra load for tail latency.
 */
export class HedgePolicy extends StagePolicy {
  readonly delayMs: number;
  readonly maxHedges: number;
  readonly name: string;
  readonly wheel: TimerWheel;
  calls = 0;
  hedges = 0;
  /** Errors this policy passed to its caller. */
  failures = 0;

  constructor(options: HedgeOptions) {
    super();
    this.delayMs = options.delayMs;
    this.maxHedges = options.maxHedges ?? 1;
    this.name = options.name ?? "dependency";
    this.wheel = TimerWheel.of(options.clock ?? systemClock);
  }

  run<T>(fn: Operation<T>, call: Call, next: Next): Promise<T> {
    this.calls++;
    return new Promise<T>((resolve, reject) => new Race(this, fn, call, next, resolve, reject).launch());
  }
}

export function hedge(options: HedgeOptions): HedgePolicy {
  return new HedgePolicy(options);
}

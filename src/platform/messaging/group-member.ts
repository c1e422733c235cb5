import type { Clock, TimerHandle } from "../time/index.ts";
import type { LeaseStore } from "./driver.ts";

export interface GroupMemberOptions {
  leases: LeaseStore;
  /** Lease scope of one (topic, group). */
  scope: string;
  member: string;
  partitions: number;
  clock: Clock;
  /** A member or partition lease not renewed for this long is free to take. */
  leaseTtlMs: number;
  heartbeatMs: number;
  onAssigned(partition: number): void;
  /** Must finish (commit, close) before the partition lease is released. */
  onRevoked(partition: number): Promise<void>;
  onError(error: unknown): void;
}

/**
 * Membership and partition ownership through leases: every member renews a member lease, sorts the live
 * members, wants the partitions `p` with `p % members == its rank`, and holds a lease on each one it works.
 * The lease is the guard: a partition moves only once its previous holder released it or stopped renewing.
 */
export class GroupMember {
  readonly #o: GroupMemberOptions;
  readonly #owned = new Set<number>();
  #timer: TimerHandle | undefined;
  #tick: Promise<void> = Promise.resolve();
  #stopped = false;
  #renewedAt: number;

  constructor(options: GroupMemberOptions) {
    this.#o = options;
    this.#renewedAt = options.clock.now();
  }

  owned(): number[] {
    return [...this.#owned].sort((a, b) => a - b);
  }

  /** Drops a partition whose worker failed and frees its lease, so the next rebalance starts it afresh. */
  async forget(partition: number): Promise<void> {
    if (this.#owned.delete(partition))
      await this.#o.leases.release(this.#o.scope, `p${partition}`, this.#o.member);
  }

  start(): void {
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    await this.#tick;
    const { leases, scope, member } = this.#o;
    await Promise.all(
      [...this.#owned].map(async (p) => {
        this.#owned.delete(p);
        await this.#o.onRevoked(p);
        await leases.release(scope, `p${p}`, member);
      }),
    );
    await leases.release(scope, `m.${member}`, member);
  }

  #schedule(ms: number): void {
    this.#timer = this.#o.clock.setTimeout(() => {
      // Leases written in this round expire leaseTtlMs after it started, not after it ended.
      const startedAt = this.#o.clock.now();
      this.#tick = this.#rebalance()
        .then(() => {
          this.#renewedAt = startedAt;
        })
        .catch(async (err) => {
          this.#o.onError(err);
          await this.#fenceIfExpired();
        })
        .finally(() => {
          if (!this.#stopped) this.#schedule(this.#o.heartbeatMs);
        });
    }, ms);
  }

  /**
   * Self-fencing: a member that could not renew for a whole lease period must assume another member holds
   * its partitions now, and stop working them before it processes a message twice.
   */
  async #fenceIfExpired(): Promise<void> {
    // One heartbeat of margin: stop before the lease can be taken, not at the same instant.
    if (this.#o.clock.now() - this.#renewedAt < this.#o.leaseTtlMs - this.#o.heartbeatMs) return;
    for (const p of [...this.#owned]) {
      this.#owned.delete(p);
      await this.#o.onRevoked(p);
    }
  }

  async #rebalance(): Promise<void> {
    const { leases, scope, member, leaseTtlMs, partitions } = this.#o;
    await leases.tryAcquire(scope, `m.${member}`, member, leaseTtlMs);
    const members = [...new Set(await leases.holders(scope, "m."))].sort();
    const rank = members.indexOf(member);
    for (let p = 0; p < partitions; p++) {
      if (this.#stopped) return;
      const wanted = rank >= 0 && p % members.length === rank;
      if (!wanted) {
        if (this.#owned.delete(p)) {
          await this.#o.onRevoked(p);
          await leases.release(scope, `p${p}`, member);
        }
        continue;
      }
      const held = await leases.tryAcquire(scope, `p${p}`, member, leaseTtlMs);
      if (held && !this.#owned.has(p)) {
        this.#owned.add(p);
        this.#o.onAssigned(p);
      } else if (!held && this.#owned.delete(p)) {
        // Someone took it after our lease lapsed (we were paused too long): stop working it at once.
        await this.#o.onRevoked(p);
      }
    }
  }
}

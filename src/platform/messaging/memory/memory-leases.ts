import type { Clock } from "../../time/index.ts";
import type { LeaseStore } from "../driver.ts";

interface Lease {
  owner: string;
  expiresAt: number;
}

export class MemoryLeaseStore implements LeaseStore {
  readonly #leases = new Map<string, Lease>();
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  async tryAcquire(scope: string, name: string, owner: string, ttlMs: number): Promise<boolean> {
    const key = `${scope}/${name}`;
    const now = this.#clock.now();
    const lease = this.#leases.get(key);
    if (lease && lease.owner !== owner && lease.expiresAt > now) return false;
    this.#leases.set(key, { owner, expiresAt: now + ttlMs });
    return true;
  }

  async release(scope: string, name: string, owner: string): Promise<void> {
    const key = `${scope}/${name}`;
    if (this.#leases.get(key)?.owner === owner) this.#leases.delete(key);
  }

  async holders(scope: string, prefix: string): Promise<string[]> {
    const start = `${scope}/${prefix}`;
    const now = this.#clock.now();
    const owners: string[] = [];
    for (const [key, lease] of this.#leases) {
      if (key.startsWith(start) && lease.expiresAt > now) owners.push(lease.owner);
    }
    return owners;
  }
}

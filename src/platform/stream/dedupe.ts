import { invalidOption } from "./errors.ts";
import type { Checkpointable, EventBatch, Watermark } from "./types.ts";
import { expiryOf, type WindowAssigner } from "./windows.ts";

export interface DedupeOptions {
  /** The windows downstream: an id is kept while a window containing its element can still change. */
  windows: WindowAssigner;
  allowedLatenessMs?: number;
  /** Initial table size (ids). Default 4096; the table doubles as needed. */
  initialCapacity?: number;
}

export interface DedupeSnapshot {
  /** Ids seen and still kept, with the watermark at which each may be forgotten. */
  ids: number[];
  expiries: number[];
}

const EMPTY = 0;
const USED = 1;

/**
 * Drops elements whose id was already seen, from the feed or from a redelivery, so each counts once.
 * Memory is bounded: an id is forgotten once the watermark passes the purge point of the last window
 * its element belongs to; a copy arriving after that is beyond the allowed lateness anyway, so the
 * window operator sends it to the late side output instead of counting it.
 *
 * Ids are safe integers in a Float64Array-backed open-addressing table (no per-id objects).
 */
export class Dedupe implements Checkpointable<DedupeSnapshot> {
  readonly windows: WindowAssigner;
  readonly allowedLatenessMs: number;
  #keys: Float64Array;
  #expiries: Float64Array;
  #state: Uint8Array;
  #mask: number;
  #size = 0;
  /** Smallest expiry in the table: below it a sweep would free nothing. */
  #nextExpiry = Number.POSITIVE_INFINITY;
  #duplicates = 0;

  constructor(options: DedupeOptions) {
    this.windows = options.windows;
    this.allowedLatenessMs = options.allowedLatenessMs ?? 0;
    const capacity = options.initialCapacity ?? 4096;
    if (!(capacity >= 1)) throw invalidOption("initialCapacity", capacity, "≥ 1");
    const slots = 2 ** Math.ceil(Math.log2(capacity * 2));
    this.#keys = new Float64Array(slots);
    this.#expiries = new Float64Array(slots);
    this.#state = new Uint8Array(slots);
    this.#mask = slots - 1;
  }

  /** Ids held now. */
  get size(): number {
    return this.#size;
  }

  /** Duplicates dropped so far. */
  get duplicates(): number {
    return this.#duplicates;
  }

  /**
   * Removes repeated ids from the batch in place, keeping the first occurrence and the order of the
   * rest; returns how many elements it removed. A batch without ids passes unchanged.
   */
  filter(batch: EventBatch): number {
    const ids = batch.id;
    if (ids === undefined) return 0;
    const { key, ts, value, weight } = batch;
    const n = batch.length;
    const windows = this.windows;
    const lateness = this.allowedLatenessMs;
    let out = 0;
    for (let i = 0; i < n; i++) {
      const t = ts[i]!;
      if (!this.#insert(ids[i]!, expiryOf(windows, t, lateness))) continue;
      if (out !== i) {
        key[out] = key[i]!;
        ts[out] = t;
        ids[out] = ids[i]!;
        value[out] = value[i]!;
        weight[out] = weight[i]!;
      }
      out++;
    }
    const removed = n - out;
    batch.length = out;
    this.#duplicates += removed;
    return removed;
  }

  /** Whether `id` is new; records it if so. */
  add(id: number, ts: number): boolean {
    const added = this.#insert(id, expiryOf(this.windows, ts, this.allowedLatenessMs));
    if (!added) this.#duplicates++;
    return added;
  }

  /** Forgets ids whose windows are purged at `watermark`. Cheap when nothing is due. */
  expire(watermark: Watermark): void {
    if (watermark < this.#nextExpiry) return;
    this.#rebuild(this.#keys.length, watermark);
  }

  snapshot(): DedupeSnapshot {
    const ids: number[] = [];
    const expiries: number[] = [];
    for (let s = 0; s < this.#state.length; s++) {
      if (this.#state[s] === USED) {
        ids.push(this.#keys[s]!);
        expiries.push(this.#expiries[s]!);
      }
    }
    return { ids, expiries };
  }

  restore(state: DedupeSnapshot): void {
    this.#state.fill(EMPTY);
    this.#size = 0;
    this.#nextExpiry = Number.POSITIVE_INFINITY;
    for (let i = 0; i < state.ids.length; i++) this.#insert(state.ids[i]!, state.expiries[i]!);
  }

  #insert(id: number, expiry: number): boolean {
    const keys = this.#keys;
    const used = this.#state;
    const mask = this.#mask;
    let slot = hash(id) & mask;
    while (used[slot] === USED) {
      if (keys[slot] === id) return false;
      slot = (slot + 1) & mask;
    }
    keys[slot] = id;
    this.#expiries[slot] = expiry;
    used[slot] = USED;
    if (expiry < this.#nextExpiry) this.#nextExpiry = expiry;
    if (++this.#size * 2 > keys.length) this.#rebuild(keys.length * 2, Number.NEGATIVE_INFINITY);
    return true;
  }

  /** Rehashes into `slots` slots, dropping ids whose expiry is at or below `watermark`. */
  #rebuild(slots: number, watermark: Watermark): void {
    const keys = this.#keys;
    const expiries = this.#expiries;
    const used = this.#state;
    const live = new Float64Array(this.#size * 2);
    let count = 0;
    for (let s = 0; s < used.length; s++) {
      if (used[s] === USED && expiries[s]! > watermark) {
        live[count++] = keys[s]!;
        live[count++] = expiries[s]!;
      }
    }
    // Shrink back when most ids expired, so memory follows the live set rather than the peak.
    while (slots > 4096 && (count / 2) * 8 < slots) slots >>>= 1;
    this.#keys = new Float64Array(slots);
    this.#expiries = new Float64Array(slots);
    this.#state = new Uint8Array(slots);
    this.#mask = slots - 1;
    this.#size = 0;
    this.#nextExpiry = Number.POSITIVE_INFINITY;
    for (let i = 0; i < count; i += 2) this.#insert(live[i]!, live[i + 1]!);
  }
}

/** Mixes both 32-bit halves of a safe-integer id. */
function hash(id: number): number {
  const h = Math.imul((id | 0) ^ Math.imul((id / 4294967296) | 0, 0x85ebca6b), 0x9e3779b1);
  return h ^ (h >>> 15);
}

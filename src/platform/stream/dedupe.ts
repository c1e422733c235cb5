import { invalidOption, StreamError } from "./errors.ts";
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
  /**
   * Ids still kept, grouped by the watermark at which they may be forgotten (few distinct values: one per
   * open window), each group's ids sorted and stored as varint gaps, base64. A busy partition keeps tens of
   * thousands of ids; as float64 columns they made a 1.3 MB checkpoint per partition per second, whose
   * encoding stalled the loop and whose Postgres write held the partition for hundreds of milliseconds.
   * Ids counting up (as trade ids do) take about a byte each this way.
   */
  groups?: string;
  /** Older checkpoints: the same as float64 little-endian columns in base64, or as plain arrays. */
  ids?: string | number[];
  expiries?: string | number[];
}

function decodeFloats(value: string | number[]): ArrayLike<number> {
  if (typeof value !== "string") return value;
  const bytes = Buffer.from(value, "base64");
  // Copied into an aligned buffer: a Buffer from base64 may sit at any offset of Node's pool.
  const floats = new Float64Array(bytes.byteLength / 8);
  new Uint8Array(floats.buffer).set(bytes);
  return floats;
}

/** A group's ids as gaps from the previous id (the first from 0): integers ≥ 0 only. */
const GAPS = 0;
/** A group's ids as float64s: negative or fractional ids, or gaps past 2^53. */
const RAW = 1;

/** `ids` grouped by `expiries` and sorted within each group, in the {@link DedupeSnapshot.groups} layout. */
function encodeGroups(ids: Float64Array, expiries: Float64Array): string {
  // Few distinct expiries, and runs of the same one: a linear search from the last hit beats a Map here.
  const distinct: number[] = [];
  const counts: number[] = [];
  const groupOf = new Uint32Array(ids.length);
  let last = -1;
  for (let i = 0; i < expiries.length; i++) {
    const e = expiries[i]!;
    if (last < 0 || distinct[last] !== e) {
      last = distinct.indexOf(e);
      if (last < 0) {
        last = distinct.length;
        distinct.push(e);
        counts.push(0);
      }
    }
    groupOf[i] = last;
    counts[last]!++;
  }
  const starts: number[] = [];
  const fill: number[] = [];
  let at = 0;
  for (const count of counts) {
    starts.push(at);
    fill.push(at);
    at += count;
  }
  const grouped = new Float64Array(ids.length);
  for (let i = 0; i < ids.length; i++) grouped[fill[groupOf[i]!]!++] = ids[i]!;
  // Worst case per group: expiry, count and mode, then 8 bytes an id (raw, or a 53-bit gap as varint).
  const out = new Uint8Array(counts.length * 18 + ids.length * 8);
  const view = new DataView(out.buffer);
  let n = 0;
  const varint = (value: number) => {
    // Bitwise while the value fits 31 bits (gaps of counting ids always do), arithmetic above.
    while (value >= 0x80000000) {
      out[n++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    while (value >= 0x80) {
      out[n++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    out[n++] = value;
  };
  for (let g = 0; g < distinct.length; g++) {
    const expiry = distinct[g]!;
    const count = counts[g]!;
    const start = starts[g]!;
    const group = grouped.subarray(start, start + count).sort();
    view.setFloat64(n, expiry, true);
    n += 8;
    varint(count);
    const gaps =
      group[0]! >= 0 && group[count - 1]! <= Number.MAX_SAFE_INTEGER && group.every(Number.isInteger);
    out[n++] = gaps ? GAPS : RAW;
    let previous = 0;
    for (let i = 0; i < count; i++) {
      const id = group[i]!;
      if (gaps) {
        varint(id - previous);
        previous = id;
      } else {
        view.setFloat64(n, id, true);
        n += 8;
      }
    }
  }
  return Buffer.from(out.buffer, 0, n).toString("base64");
}

/** Calls `each` for every (id, expiry) of an {@link encodeGroups} string. */
function decodeGroups(text: string, each: (id: number, expiry: number) => void): void {
  const bytes = Buffer.from(text, "base64");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let n = 0;
  const varint = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const b = bytes[n++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 0x80;
    }
  };
  while (n < bytes.length) {
    const expiry = view.getFloat64(n, true);
    n += 8;
    const count = varint();
    const mode = bytes[n++];
    if (mode !== GAPS && mode !== RAW) {
      throw new StreamError("BWK_ERR_STREAM_INVALID_SNAPSHOT", `dedupe snapshot: unknown group mode ${mode}`);
    }
    let id = 0;
    for (let i = 0; i < count; i++) {
      if (mode === GAPS) id += varint();
      else {
        id = view.getFloat64(n, true);
        n += 8;
      }
      each(id, expiry);
    }
  }
}

/**
 * Drops elements whose id was already seen, from the feed or from a redelivery, so each counts once.
 * Memory is bounded: an id may be forgotten once the watermark passes the purge point of the last
 * window its element belongs to; a copy arriving after that is beyond the allowed lateness anyway, so
 * the window operator sends it to the late side output instead of counting it.
 *
 * Ids are safe integers in one Float64Array of (id, expiry) pairs with open addressing, so a probe
 * touches one cache line and there are no per-id objects. Expired ids are swept lazily, once as many ids
 * were inserted since the last sweep as the table held, so sweeping costs O(1) per insert amortised.
 */
export class Dedupe implements Checkpointable<DedupeSnapshot> {
  readonly windows: WindowAssigner;
  readonly allowedLatenessMs: number;
  /** [id, expiry] per slot; an empty slot holds NaN as its id. */
  #table: Float64Array;
  #mask: number;
  #minSlots: number;
  #size = 0;
  #insertsSinceSweep = 0;
  /** Smallest expiry in the table: below it a sweep would free nothing. */
  #nextExpiry = Number.POSITIVE_INFINITY;
  #watermark: Watermark = Number.NEGATIVE_INFINITY;
  #duplicates = 0;

  constructor(options: DedupeOptions) {
    this.windows = options.windows;
    this.allowedLatenessMs = options.allowedLatenessMs ?? 0;
    const capacity = options.initialCapacity ?? 4096;
    if (!(capacity >= 1)) throw invalidOption("initialCapacity", capacity, "≥ 1");
    const slots = 2 ** Math.ceil(Math.log2(Math.max(capacity * 2, 8192)));
    this.#table = new Float64Array(slots * 2).fill(Number.NaN);
    this.#mask = slots - 1;
    this.#minSlots = slots;
  }

  /** Ids held now (expired ids not yet swept included). */
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

  /** Lets ids whose windows are purged at `watermark` go. Cheap when no sweep is due. */
  expire(watermark: Watermark): void {
    if (watermark > this.#watermark) this.#watermark = watermark;
    if (watermark < this.#nextExpiry || this.#insertsSinceSweep < this.#size) return;
    this.#rebuild(this.#mask + 1);
  }

  snapshot(): DedupeSnapshot {
    const table = this.#table;
    let kept = 0;
    for (let s = 0; s < table.length; s += 2) {
      if (!Number.isNaN(table[s]!) && table[s + 1]! > this.#watermark) kept++;
    }
    const ids = new Float64Array(kept);
    const expiries = new Float64Array(kept);
    let i = 0;
    for (let s = 0; s < table.length; s += 2) {
      if (!Number.isNaN(table[s]!) && table[s + 1]! > this.#watermark) {
        ids[i] = table[s]!;
        expiries[i++] = table[s + 1]!;
      }
    }
    return { groups: encodeGroups(ids, expiries) };
  }

  restore(state: DedupeSnapshot): void {
    const ids = decodeFloats(state.ids ?? []);
    const expiries = decodeFloats(state.expiries ?? []);
    if (ids.length !== expiries.length) {
      throw new StreamError(
        "BWK_ERR_STREAM_INVALID_SNAPSHOT",
        "dedupe snapshot: ids and expiries differ in length",
      );
    }
    this.#table.fill(Number.NaN);
    this.#size = 0;
    this.#nextExpiry = Number.POSITIVE_INFINITY;
    this.#watermark = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < ids.length; i++) this.#insert(ids[i]!, expiries[i]!);
    if (state.groups !== undefined) decodeGroups(state.groups, (id, expiry) => this.#insert(id, expiry));
    this.#insertsSinceSweep = 0;
  }

  #insert(id: number, expiry: number): boolean {
    const table = this.#table;
    const mask = this.#mask;
    let slot = hash(id) & mask;
    for (;;) {
      const held = table[2 * slot]!;
      if (held === id) return false;
      if (Number.isNaN(held)) break;
      slot = (slot + 1) & mask;
    }
    table[2 * slot] = id;
    table[2 * slot + 1] = expiry;
    if (expiry < this.#nextExpiry) this.#nextExpiry = expiry;
    this.#insertsSinceSweep++;
    if (++this.#size * 2 > mask + 1) this.#rebuild((mask + 1) * 2);
    return true;
  }

  /** Rehashes into `slots` slots, dropping ids already expired at the last watermark seen. */
  #rebuild(slots: number): void {
    const old = this.#table;
    const watermark = this.#watermark;
    let live = 0;
    for (let s = 0; s < old.length; s += 2) if (!Number.isNaN(old[s]!) && old[s + 1]! > watermark) live++;
    // Shrink back when most ids expired, so memory follows the live set rather than the peak; grow
    // only if sweeping did not free enough.
    while (slots > this.#minSlots && live * 8 < slots) slots >>>= 1;
    while (live * 2 >= slots) slots *= 2;
    const table = new Float64Array(slots * 2).fill(Number.NaN);
    const mask = slots - 1;
    let nextExpiry = Number.POSITIVE_INFINITY;
    for (let s = 0; s < old.length; s += 2) {
      const id = old[s]!;
      const expiry = old[s + 1]!;
      if (Number.isNaN(id) || expiry <= watermark) continue;
      let slot = hash(id) & mask;
      while (!Number.isNaN(table[2 * slot]!)) slot = (slot + 1) & mask;
      table[2 * slot] = id;
      table[2 * slot + 1] = expiry;
      if (expiry < nextExpiry) nextExpiry = expiry;
    }
    this.#table = table;
    this.#mask = mask;
    this.#size = live;
    this.#nextExpiry = nextExpiry;
    this.#insertsSinceSweep = 0;
  }
}

/** Mixes both 32-bit halves of a safe-integer id (a random spread: linear probing needs one). */
function hash(id: number): number {
  const h = Math.imul((id | 0) ^ Math.imul((id / 4294967296) | 0, 0x85ebca6b), 0x9e3779b1);
  return h ^ (h >>> 15);
}

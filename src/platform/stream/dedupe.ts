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
  /**
   * Ids held as bitmaps (see {@link Dedupe}): per layer the chunk index and the expiry as float64 LE, then
   * the chunk's 4,096 bits, base64. Absent when there are none (and in checkpoints before session 11).
   */
  chunks?: string;
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

/** Appends `value` (an integer in [0, 2^53]) as a varint at `n`; returns the offset after it. */
function putVarint(out: Uint8Array, n: number, value: number): number {
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
  return n;
}

/**
 * The kept entries of an (id, expiry) open-addressing table in the {@link DedupeSnapshot.groups} layout:
 * one pass over the table files each id under its expiry, then each group is sorted and written.
 */
function encodeGroups(table: Float64Array, size: number, watermark: number): string {
  // Few distinct expiries, and runs of the same one: a linear search from the last hit beats a Map here.
  const distinct: number[] = [];
  const counts: number[] = [];
  const ids = new Float64Array(size);
  const groupOf = new Uint16Array(size);
  let kept = 0;
  let last = -1;
  for (let s = 0; s < table.length; s += 2) {
    const id = table[s]!;
    const e = table[s + 1]!;
    if (Number.isNaN(id) || !(e > watermark)) continue; // an empty slot, or expired
    if (last < 0 || distinct[last] !== e) {
      last = distinct.indexOf(e);
      if (last < 0) {
        if (distinct.length === 0xffff) return encodeGroupsSlowly(table, watermark);
        last = distinct.length;
        distinct.push(e);
        counts.push(0);
      }
    }
    ids[kept] = id;
    groupOf[kept++] = last;
    counts[last]!++;
  }
  const starts = new Uint32Array(distinct.length + 1);
  for (let g = 0; g < distinct.length; g++) starts[g + 1] = starts[g]! + counts[g]!;
  const fill = starts.slice(0, distinct.length);
  const grouped = new Float64Array(kept);
  for (let i = 0; i < kept; i++) grouped[fill[groupOf[i]!]!++] = ids[i]!;
  // Worst case per group: expiry, count and mode, then 8 bytes an id (raw, or a 53-bit gap as varint).
  const out = new Uint8Array(distinct.length * 18 + kept * 8);
  const view = new DataView(out.buffer);
  let n = 0;
  for (let g = 0; g < distinct.length; g++) {
    const count = counts[g]!;
    const group = grouped.subarray(starts[g]!, starts[g]! + count);
    const integers = sortIds(group);
    view.setFloat64(n, distinct[g]!, true);
    n = putVarint(out, n + 8, count);
    const gaps = integers && group[0]! >= 0 && group[count - 1]! <= Number.MAX_SAFE_INTEGER;
    out[n++] = gaps ? GAPS : RAW;
    if (gaps) {
      let previous = 0;
      for (let i = 0; i < count; i++) {
        n = putVarint(out, n, group[i]! - previous);
        previous = group[i]!;
      }
    } else {
      for (let i = 0; i < count; i++, n += 8) view.setFloat64(n, group[i]!, true);
    }
  }
  return Buffer.from(out.buffer, 0, n).toString("base64");
}

/** The same layout for a table with more than 65,535 distinct expiries: one group per id. */
function encodeGroupsSlowly(table: Float64Array, watermark: number): string {
  const parts: Buffer[] = [];
  for (let s = 0; s < table.length; s += 2) {
    const id = table[s]!;
    const e = table[s + 1]!;
    if (Number.isNaN(id) || !(e > watermark)) continue;
    const part = Buffer.alloc(18);
    part.writeDoubleLE(e, 0);
    part[8] = 1; // count
    part[9] = RAW;
    part.writeDoubleLE(id, 10);
    parts.push(part);
  }
  return Buffer.concat(parts).toString("base64");
}

/**
 * Sorts ids ascending in place; says whether they are all integers. Integers spanning less than 2^32 (ids counting up, as trade ids do) go
 * through a three-pass LSD radix sort on their offsets from the smallest: at every checkpoint of a busy
 * partition this sorted ~80k ids in ~1 ms where the built-in typed-array sort took ~7 ms. Anything else
 * falls back to the built-in sort.
 */
function sortIds(ids: Float64Array): boolean {
  const n = ids.length;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id)) {
      ids.sort();
      return false;
    }
    if (id < min) min = id;
    if (id > max) max = id;
  }
  if (n < 256 || !(max - min < 2 ** 32)) {
    ids.sort();
    return true;
  }
  let from = new Uint32Array(n);
  let to = new Uint32Array(n);
  for (let i = 0; i < n; i++) from[i] = ids[i]! - min;
  const counts = new Uint32Array(2048);
  for (let shift = 0; shift < 32; shift += 11) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(from[i]! >>> shift) & 2047]!++;
    let at = 0;
    for (let d = 0; d < 2048; d++) {
      const c = counts[d]!;
      counts[d] = at;
      at += c;
    }
    for (let i = 0; i < n; i++) {
      const v = from[i]!;
      to[counts[(v >>> shift) & 2047]!++] = v;
    }
    [from, to] = [to, from];
  }
  for (let i = 0; i < n; i++) ids[i] = from[i]! + min;
  return true;
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
 * Ids counting up (as trade ids do) are held as bits: ids fall in chunks of 4,096 consecutive values, and
 * a chunk keeps one bitmap (a layer, 512 bytes) per distinct expiry of its ids, at most four. Testing and
 * setting a bit touches a small, recently used array; a hash table of ids spread its probes over megabytes,
 * a cache miss each, and rehashed all of it as it grew, which made this class a third of the analytics
 * processor's time. A layer goes as a whole once the watermark passes its expiry. A chunk is only started
 * above the largest id seen, so no id of its range is in the hash table unless the chunk sent it there
 * (expired on arrival, or no room for its expiry); the chunk is then marked spilled, and a miss in its
 * layers also probes the table.
 *
 * Every other id (negative, fractional, below the chunks, or of a chunk with no room for its expiry) goes
 * to one Float64Array of (id, expiry) pairs with open addressing, so a probe touches one cache line and
 * there are no per-id objects. Its expired ids are swept lazily, once as many ids were inserted since the
 * last sweep as the table held, so sweeping costs O(1) per insert amortised.
 */
export class Dedupe implements Checkpointable<DedupeSnapshot> {
  readonly windows: WindowAssigner;
  readonly allowedLatenessMs: number;
  /** [id, expiry] per slot; an empty slot holds NaN as its id. */
  #table: Float64Array;
  #mask: number;
  #minSlots: number;
  /** Ids in the hash table. */
  #size = 0;
  #insertsSinceSweep = 0;
  /** Smallest expiry in the table of an id live when inserted: below it a sweep would free next to nothing. */
  #nextExpiry = Number.POSITIVE_INFINITY;
  #watermark: Watermark = Number.NEGATIVE_INFINITY;
  #duplicates = 0;
  readonly #chunks = new Map<number, Chunk>();
  #lastChunk: Chunk | undefined;
  /** Ids in chunk layers. */
  #chunked = 0;
  /** The largest id inserted (or restored): chunks start above it. */
  #maxId = Number.NEGATIVE_INFINITY;
  /** Smallest expiry of a layer: the watermark passing it makes a layer sweep due. */
  #nextLayerExpiry = Number.POSITIVE_INFINITY;

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
    return this.#size + this.#chunked;
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
    if (this.#watermark >= this.#nextLayerExpiry) this.#sweepChunks();
    if (watermark < this.#nextExpiry || this.#insertsSinceSweep < this.#size) return;
    this.#rebuild(this.#mask + 1);
  }

  snapshot(): DedupeSnapshot {
    const snapshot: DedupeSnapshot = { groups: encodeGroups(this.#table, this.#size, this.#watermark) };
    const chunks = this.#encodeChunks();
    if (chunks !== "") snapshot.chunks = chunks;
    return snapshot;
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
    this.#chunks.clear();
    this.#lastChunk = undefined;
    this.#chunked = 0;
    this.#maxId = Number.NEGATIVE_INFINITY;
    this.#nextLayerExpiry = Number.POSITIVE_INFINITY;
    if (state.chunks !== undefined) this.#decodeChunks(state.chunks);
    for (let i = 0; i < ids.length; i++) this.#hashInsert(ids[i]!, expiries[i]!);
    if (state.groups !== undefined) decodeGroups(state.groups, (id, expiry) => this.#hashInsert(id, expiry));
    // A table id in a chunk's range came from a full chunk: a miss in that chunk must probe the table.
    if (this.#size > 0 && this.#chunks.size > 0) {
      const table = this.#table;
      for (let s = 0; s < table.length; s += 2) {
        const chunk = this.#chunks.get(Math.floor(table[s]! / CHUNK_IDS));
        if (chunk !== undefined) chunk.spilled = true;
      }
    }
    this.#insertsSinceSweep = 0;
  }

  #insert(id: number, expiry: number): boolean {
    if (id >= 0 && id <= Number.MAX_SAFE_INTEGER && Number.isInteger(id)) {
      const index = Math.floor(id / CHUNK_IDS);
      let chunk = this.#lastChunk;
      if (chunk === undefined || chunk.index !== index) {
        chunk =
          this.#chunks.get(index) ?? (index * CHUNK_IDS > this.#maxId ? this.#startChunk(index) : undefined);
        if (chunk !== undefined) this.#lastChunk = chunk;
      }
      if (chunk !== undefined) {
        const offset = id - index * CHUNK_IDS;
        const word = offset >>> 5;
        const bit = 1 << (offset & 31);
        const layers = chunk.layers;
        for (let l = 0; l < layers.length; l++) if (layers[l]!.bits[word]! & bit) return false;
        const layer = expiry > this.#watermark ? this.#layerFor(chunk, expiry) : undefined;
        if (chunk.spilled && this.#hashHas(id)) return false;
        if (layer !== undefined) {
          layer.bits[word]! |= bit;
          layer.count++;
          this.#chunked++;
          if (id > this.#maxId) this.#maxId = id;
          return true;
        }
        // Expired on arrival (bound for the late output), or no room for its expiry: into the table.
        chunk.spilled = true;
      }
    }
    return this.#hashInsert(id, expiry);
  }

  #startChunk(index: number): Chunk {
    const chunk: Chunk = { index, layers: [], last: undefined, spilled: false };
    this.#chunks.set(index, chunk);
    return chunk;
  }

  /** The chunk's layer for `expiry`, made if there is room; undefined when the chunk has its four. */
  #layerFor(chunk: Chunk, expiry: number): Layer | undefined {
    const last = chunk.last;
    if (last !== undefined && last.expiry === expiry) return last;
    for (const layer of chunk.layers) {
      if (layer.expiry === expiry) {
        chunk.last = layer;
        return layer;
      }
    }
    if (chunk.layers.length === MAX_LAYERS) return undefined;
    const layer: Layer = { expiry, bits: new Uint32Array(CHUNK_WORDS), count: 0 };
    chunk.layers.push(layer);
    chunk.last = layer;
    if (expiry < this.#nextLayerExpiry) this.#nextLayerExpiry = expiry;
    return layer;
  }

  /** Drops the layers the watermark passed, and the chunks left with none. */
  #sweepChunks(): void {
    const watermark = this.#watermark;
    let next = Number.POSITIVE_INFINITY;
    for (const [index, chunk] of this.#chunks) {
      const layers = chunk.layers;
      let kept = 0;
      for (const layer of layers) {
        if (layer.expiry <= watermark) {
          this.#chunked -= layer.count;
          continue;
        }
        layers[kept++] = layer;
        if (layer.expiry < next) next = layer.expiry;
      }
      layers.length = kept;
      if (chunk.last !== undefined && chunk.last.expiry <= watermark) chunk.last = undefined;
      if (kept === 0) {
        this.#chunks.delete(index);
        if (this.#lastChunk === chunk) this.#lastChunk = undefined;
      }
    }
    this.#nextLayerExpiry = next;
  }

  #encodeChunks(): string {
    const watermark = this.#watermark;
    let live = 0;
    for (const chunk of this.#chunks.values()) for (const l of chunk.layers) if (l.expiry > watermark) live++;
    if (live === 0) return "";
    const out = Buffer.alloc(live * LAYER_BYTES);
    let n = 0;
    for (const chunk of this.#chunks.values()) {
      for (const layer of chunk.layers) {
        if (layer.expiry <= watermark) continue;
        out.writeDoubleLE(chunk.index, n);
        out.writeDoubleLE(layer.expiry, n + 8);
        out.set(new Uint8Array(layer.bits.buffer, layer.bits.byteOffset, CHUNK_WORDS * 4), n + 16);
        n += LAYER_BYTES;
      }
    }
    return out.toString("base64");
  }

  #decodeChunks(text: string): void {
    const bytes = Buffer.from(text, "base64");
    if (bytes.byteLength % LAYER_BYTES !== 0) {
      throw new StreamError(
        "BWK_ERR_STREAM_INVALID_SNAPSHOT",
        "dedupe snapshot: chunks are not whole layers",
      );
    }
    for (let n = 0; n < bytes.byteLength; n += LAYER_BYTES) {
      const index = bytes.readDoubleLE(n);
      const expiry = bytes.readDoubleLE(n + 8);
      if (!Number.isSafeInteger(index) || index < 0 || Number.isNaN(expiry)) {
        throw new StreamError("BWK_ERR_STREAM_INVALID_SNAPSHOT", `dedupe snapshot: bad chunk ${index}`);
      }
      const chunk = this.#chunks.get(index) ?? this.#startChunk(index);
      if (chunk.layers.length === MAX_LAYERS) {
        throw new StreamError(
          "BWK_ERR_STREAM_INVALID_SNAPSHOT",
          `dedupe snapshot: chunk ${index} has too many layers`,
        );
      }
      // Copied into an aligned array: a Buffer from base64 may sit at any offset of Node's pool.
      const bits = new Uint32Array(CHUNK_WORDS);
      new Uint8Array(bits.buffer).set(bytes.subarray(n + 16, n + LAYER_BYTES));
      let count = 0;
      for (let w = 0; w < CHUNK_WORDS; w++) count += popcount(bits[w]!);
      chunk.layers.push({ expiry, bits, count });
      this.#chunked += count;
      if (expiry < this.#nextLayerExpiry) this.#nextLayerExpiry = expiry;
      const top = index * CHUNK_IDS + CHUNK_IDS - 1;
      if (top > this.#maxId) this.#maxId = top;
    }
  }

  #hashHas(id: number): boolean {
    const table = this.#table;
    const mask = this.#mask;
    for (let slot = hash(id) & mask; ; slot = (slot + 1) & mask) {
      const held = table[2 * slot]!;
      if (held === id) return true;
      if (Number.isNaN(held)) return false;
    }
  }

  #hashInsert(id: number, expiry: number): boolean {
    if (id > this.#maxId) this.#maxId = id;
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
    // An id expired on arrival (a trade later than the allowed lateness, bound for the late output) does not
    // make a sweep due: it goes at the next sweep or regrowth. Counting it made every late trade trigger a
    // sweep that rehashed the whole table and freed next to nothing.
    if (expiry < this.#nextExpiry && expiry > this.#watermark) this.#nextExpiry = expiry;
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

/** Ids per chunk: 4,096 bits, a 512-byte bitmap per layer. */
const CHUNK_IDS = 4096;
const CHUNK_WORDS = CHUNK_IDS / 32;
/** Distinct expiries a chunk holds as layers; ids with a further one go to the hash table. */
const MAX_LAYERS = 4;
/** A layer in a snapshot: chunk index and expiry (float64 each), then the bits. */
const LAYER_BYTES = 16 + CHUNK_WORDS * 4;

interface Layer {
  expiry: number;
  bits: Uint32Array;
  count: number;
}

interface Chunk {
  index: number;
  layers: Layer[];
  /** The layer used last: consecutive ids mostly share an expiry. */
  last: Layer | undefined;
  /** An id of this chunk's range went to the hash table: a miss in the layers must probe the table too. */
  spilled: boolean;
}

function popcount(word: number): number {
  let v = word - ((word >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

import { Prng } from "../../../platform/random/index.ts";
import { feedOptionError } from "./errors.ts";
import { createTradeBatch, type TradeBatch } from "./trade.ts";
import { createUniverse, type Listing } from "./universe.ts";
import { ZipfSampler } from "./zipf.ts";

export interface DisorderOptions {
  /** Share of trades whose event time lags their arrival by up to `maxOutOfOrderMs`. Default 0.05. */
  outOfOrderRate?: number;
  /** The bound on ordinary disorder: a watermark with B ≥ this sees none of it as late. Default 500. */
  maxOutOfOrderMs?: number;
  /** Share of trades that arrive late, lagging by `lateDelayMs` (beyond B). Default 0.002. */
  lateRate?: number;
  /** [min, max] lag of late trades in ms. Default [2_000, 30_000]. */
  lateDelayMs?: [number, number];
  /** Share of arrivals that repeat a recent trade (same tradeId and content). Default 0.005. */
  duplicateRate?: number;
}

export interface BurstOptions {
  /** Mean bursts per minute of event time. Default 2; 0 disables bursts. */
  perMinute?: number;
  durationMs?: number;
  /** Trade-rate multiple during a burst; half the burst's trades go to its symbol. Default 4. */
  intensity?: number;
  /** Size multiple for the burst symbol's trades. Default 5. */
  sizeMultiplier?: number;
  /** Price jump of the burst symbol when the burst starts, as a fraction (sign random). Default 0.005. */
  jump?: number;
}

export interface FeedOptions {
  seed: number;
  /** Instruments in the universe. */
  symbols: number;
  /** Mean trades per second of event time, bursts included. */
  rate: number;
  /** Event-time origin, epoch ms. Default 2026-01-01T00:00:00Z, fixed so runs are reproducible. */
  startTs?: number;
  /** Zipf exponent of symbol popularity (rank 0 the most traded). Default 1.1. */
  zipfExponent?: number;
  disorder?: DisorderOptions;
  bursts?: BurstOptions;
  /** tradeId of the first trade; ids then count up. Default 1. */
  firstTradeId?: number;
}

export interface FeedStats {
  /** Arrivals, duplicates included. */
  emitted: number;
  duplicates: number;
  outOfOrder: number;
  late: number;
  bursts: number;
}

const SECONDS_PER_YEAR = 365 * 24 * 3600;
const RECENT = 1024;

/**
 * A seeded, deterministic trade feed: Poisson arrivals with bursts, Zipf symbol popularity, a GBM
 * random walk per symbol, and injected out-of-order, late and duplicate trades. The same options give
 * the same trades whatever the batch sizes used to draw them.
 *
 * Trades come in arrival order; `ts` is event time, `arrival − lag`, rounded down to the ms.
 */
export class FeedGenerator {
  readonly instruments: readonly Listing[];
  readonly startTs: number;
  #prng: Prng;
  #zipf: ZipfSampler;
  #price: Float64Array;
  #lastArrival: Float64Array;
  #sigma: Float64Array;
  #ticksPerUnit: Float64Array;
  #nextId: number;
  #arrival: number;
  #baseGapMs: number;
  #burst: Required<BurstOptions>;
  #burstSymbol = -1;
  #burstEnd = Number.NEGATIVE_INFINITY;
  #nextBurst: number;
  #ooo: number;
  #oooMax: number;
  #late: number;
  #lateMin: number;
  #lateMax: number;
  #dup: number;
  #recent = createTradeBatch(RECENT, []);
  #stats: FeedStats = { emitted: 0, duplicates: 0, outOfOrder: 0, late: 0, bursts: 0 };

  constructor(options: FeedOptions) {
    validate(options);
    this.instruments = createUniverse(options.symbols, options.seed);
    this.startTs = options.startTs ?? Date.UTC(2026, 0, 1);
    this.#prng = new Prng(options.seed);
    this.#zipf = new ZipfSampler(options.symbols, options.zipfExponent ?? 1.1);
    this.#price = Float64Array.from(this.instruments, (l) => l.initialPrice);
    this.#lastArrival = new Float64Array(options.symbols).fill(this.startTs);
    this.#sigma = Float64Array.from(this.instruments, (l) => l.volatility / Math.sqrt(SECONDS_PER_YEAR));
    this.#ticksPerUnit = Float64Array.from(this.instruments, (l) => Math.round(1 / l.tick));
    this.#nextId = options.firstTradeId ?? 1;
    const d = options.disorder ?? {};
    this.#ooo = d.outOfOrderRate ?? 0.05;
    this.#oooMax = d.maxOutOfOrderMs ?? 500;
    this.#late = d.lateRate ?? 0.002;
    [this.#lateMin, this.#lateMax] = d.lateDelayMs ?? [2_000, 30_000];
    this.#dup = d.duplicateRate ?? 0.005;
    const b = options.bursts ?? {};
    this.#burst = {
      perMinute: b.perMinute ?? 2,
      durationMs: b.durationMs ?? 3_000,
      intensity: b.intensity ?? 4,
      sizeMultiplier: b.sizeMultiplier ?? 5,
      jump: b.jump ?? 0.005,
    };
    const share = Math.min(1, (this.#burst.perMinute * this.#burst.durationMs) / 60_000);
    this.#baseGapMs = (1_000 * (1 - share + share * this.#burst.intensity)) / options.rate;
    this.#nextBurst = this.startTs + this.#burstGap();
    this.#arrival = this.startTs;
    this.#arrival += this.#gap();
  }

  /** Arrival time of the next trade, epoch ms (event-time scale): when a live feed should publish it. */
  get nextArrival(): number {
    return this.#arrival;
  }

  get stats(): Readonly<FeedStats> {
    return this.#stats;
  }

  /** A batch sized for {@link fill}, whose dictionary is the whole universe. */
  createBatch(capacity: number): TradeBatch {
    return createTradeBatch(capacity, this.instruments);
  }

  /**
   * Appends trades to `batch` (made by {@link createBatch}) until it is full or the next trade would
   * arrive after `untilArrival`; returns the number appended.
   */
  fill(batch: TradeBatch, untilArrival = Number.POSITIVE_INFINITY): number {
    const capacity = batch.tradeId.length;
    const before = batch.length;
    while (batch.length < capacity && this.#arrival <= untilArrival) {
      this.#emit(batch, batch.length++);
      this.#arrival += this.#gap();
    }
    return batch.length - before;
  }

  /** The next `count` trades in a new batch. */
  next(count: number): TradeBatch {
    const batch = this.createBatch(count);
    this.fill(batch);
    return batch;
  }

  #emit(batch: TradeBatch, i: number): void {
    const prng = this.#prng;
    const arrival = this.#arrival;
    this.#stats.emitted++;
    const recent = this.#recent;
    if (recent.length > 0 && prng.chance(this.#dup)) {
      const r = prng.int(Math.min(recent.length, RECENT));
      batch.instrument[i] = recent.instrument[r]!;
      batch.tradeId[i] = recent.tradeId[r]!;
      batch.price[i] = recent.price[r]!;
      batch.size[i] = recent.size[r]!;
      batch.ts[i] = recent.ts[r]!;
      this.#stats.duplicates++;
      return;
    }
    if (arrival >= this.#burstEnd && arrival >= this.#nextBurst && this.#burst.perMinute > 0)
      this.#startBurst(arrival);
    const inBurst = arrival < this.#burstEnd;
    const onBurstSymbol = inBurst && prng.chance(0.5);
    const s = onBurstSymbol ? this.#burstSymbol : this.#zipf.sample(prng.next());
    const dt = Math.max(0, arrival - this.#lastArrival[s]!) / 1_000;
    this.#lastArrival[s] = arrival;
    const sigma = this.#sigma[s]!;
    const price =
      this.#price[s]! * Math.exp(-0.5 * sigma * sigma * dt + sigma * Math.sqrt(dt) * prng.normal());
    this.#price[s] = price;
    // Dividing whole ticks by an integer gives the nearest double to the decimal price (12.34, not 12.340000000000002).
    const ticks = this.#ticksPerUnit[s]!;
    const rounded = Math.max(1, Math.round(price * ticks)) / ticks;
    const size = Math.max(1, Math.round(Math.exp(2.5 + 1.1 * prng.normal())));
    const u = prng.next();
    let lag = 0;
    if (u < this.#late) {
      lag = this.#lateMin + prng.next() * (this.#lateMax - this.#lateMin);
      this.#stats.late++;
    } else if (u < this.#late + this.#ooo) {
      lag = prng.next() * this.#oooMax;
      this.#stats.outOfOrder++;
    }
    batch.instrument[i] = s;
    batch.tradeId[i] = this.#nextId++;
    batch.price[i] = rounded;
    batch.size[i] = onBurstSymbol ? size * this.#burst.sizeMultiplier : size;
    batch.ts[i] = Math.floor(arrival - lag);
    this.#remember(batch, i);
  }

  #remember(batch: TradeBatch, i: number): void {
    const recent = this.#recent;
    const r = recent.length++ % RECENT;
    recent.instrument[r] = batch.instrument[i]!;
    recent.tradeId[r] = batch.tradeId[i]!;
    recent.price[r] = batch.price[i]!;
    recent.size[r] = batch.size[i]!;
    recent.ts[r] = batch.ts[i]!;
  }

  #startBurst(arrival: number): void {
    const prng = this.#prng;
    this.#burstSymbol = prng.int(this.instruments.length);
    this.#burstEnd = arrival + this.#burst.durationMs;
    this.#nextBurst = this.#burstEnd + this.#burstGap();
    this.#price[this.#burstSymbol]! *= 1 + (prng.chance(0.5) ? 1 : -1) * this.#burst.jump;
    this.#stats.bursts++;
  }

  #gap(): number {
    const mean = this.#arrival < this.#burstEnd ? this.#baseGapMs / this.#burst.intensity : this.#baseGapMs;
    return this.#prng.exponential(mean);
  }

  #burstGap(): number {
    if (this.#burst.perMinute <= 0) return Number.POSITIVE_INFINITY;
    return this.#prng.exponential(Math.max(1, 60_000 / this.#burst.perMinute - this.#burst.durationMs));
  }
}

function validate(o: FeedOptions): void {
  if (!Number.isInteger(o.seed)) throw feedOptionError("seed", o.seed, "an integer");
  if (!Number.isInteger(o.symbols) || o.symbols < 1)
    throw feedOptionError("symbols", o.symbols, "an integer ≥ 1");
  if (!(o.rate > 0) || !Number.isFinite(o.rate)) throw feedOptionError("rate", o.rate, "a finite number > 0");
  const d = o.disorder ?? {};
  for (const [name, value] of Object.entries({
    outOfOrderRate: d.outOfOrderRate,
    lateRate: d.lateRate,
    duplicateRate: d.duplicateRate,
  })) {
    if (value !== undefined && !(value >= 0 && value <= 1)) throw feedOptionError(name, value, "in [0, 1]");
  }
}

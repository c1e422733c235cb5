import { Prng } from "../../../platform/random/index.ts";
import type { AssetClass, Instrument } from "./trade.ts";

/** An instrument with the parameters of its price process. */
export interface Listing extends Instrument {
  initialPrice: number;
  /** Annualised GBM volatility. */
  volatility: number;
  /** Price increment prices are rounded to. */
  tick: number;
}

interface ClassProfile {
  weight: number;
  exchanges: readonly string[];
  /** log-uniform initial price range */
  price: [number, number];
  volatility: [number, number];
  tick: number;
  suffix: string;
}

const PROFILES: Record<AssetClass, ClassProfile> = {
  equity: {
    weight: 0.6,
    exchanges: ["XNYS", "XNAS", "XLON", "XETR"],
    price: [5, 800],
    volatility: [0.15, 0.6],
    tick: 0.01,
    suffix: "",
  },
  etf: {
    weight: 0.15,
    exchanges: ["ARCX", "XNAS"],
    price: [20, 500],
    volatility: [0.1, 0.3],
    tick: 0.01,
    suffix: "",
  },
  crypto: {
    weight: 0.15,
    exchanges: ["CBSE", "BNCE"],
    price: [0.05, 60_000],
    volatility: [0.5, 1.2],
    tick: 0.0001,
    suffix: "-USD",
  },
  fx: {
    weight: 0.1,
    exchanges: ["EBSX"],
    price: [0.5, 2],
    volatility: [0.05, 0.15],
    tick: 0.00001,
    suffix: "=X",
  },
};

const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/**
 * A deterministic universe of `count` instruments: unique tickers, an asset class drawn by weight,
 * a primary exchange per class, and price-process parameters. Same seed, same universe.
 */
export function createUniverse(count: number, seed: number): Listing[] {
  const prng = new Prng(seed ^ 0x5bd1e995);
  const classes = Object.keys(PROFILES) as AssetClass[];
  const seen = new Set<string>();
  const listings: Listing[] = [];
  while (listings.length < count) {
    const assetClass = pickClass(prng, classes);
    const profile = PROFILES[assetClass];
    const length = 3 + prng.int(2) + Math.floor(listings.length / 200_000);
    let root = "";
    for (let i = 0; i < length; i++) root += LETTERS[prng.int(26)];
    const symbol = root + profile.suffix;
    if (seen.has(symbol)) continue;
    seen.add(symbol);
    listings.push({
      symbol,
      assetClass,
      exchange: profile.exchanges[prng.int(profile.exchanges.length)]!,
      initialPrice: logUniform(prng, profile.price),
      volatility: profile.volatility[0] + prng.next() * (profile.volatility[1] - profile.volatility[0]),
      tick: profile.tick,
    });
  }
  return listings;
}

function pickClass(prng: Prng, classes: AssetClass[]): AssetClass {
  let u = prng.next();
  for (const c of classes) {
    u -= PROFILES[c].weight;
    if (u < 0) return c;
  }
  return classes[0]!;
}

function logUniform(prng: Prng, [lo, hi]: [number, number]): number {
  return Math.exp(Math.log(lo) + prng.next() * (Math.log(hi) - Math.log(lo)));
}

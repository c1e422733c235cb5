import { Prng } from "./prng.ts";

export { Prng } from "./prng.ts";

/** A source of uniform numbers in [0, 1). Inject a seeded one wherever a run must be reproducible. */
export type Random = () => number;

/** mulberry32 as a plain function: the same seed gives the same sequence as `new Prng(seed).next()`. */
export function seededRandom(seed: number): Random {
  const prng = new Prng(seed);
  return () => prng.next();
}

/** A uniform number in [min, max). */
export function uniform(random: Random, min: number, max: number): number {
  return min + (max - min) * random();
}

/** Samples ranks 0..n-1 with P(rank k) ∝ 1 / (k + 1)^s, by binary search over the cumulative weights. */
export class ZipfSampler {
  readonly #cdf: Float64Array;

  constructor(n: number, exponent: number) {
    this.#cdf = new Float64Array(n);
    let total = 0;
    for (let k = 0; k < n; k++) this.#cdf[k] = total += 1 / (k + 1) ** exponent;
    for (let k = 0; k < n; k++) this.#cdf[k]! /= total;
  }

  /** The rank for a uniform `u` in [0, 1). */
  sample(u: number): number {
    const cdf = this.#cdf;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  probability(rank: number): number {
    return this.#cdf[rank]! - (rank > 0 ? this.#cdf[rank - 1]! : 0);
  }
}

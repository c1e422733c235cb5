/** Arithmetic mean; NaN for no values. */
export function sma(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Exponential moving average seeded with the first value, so it depends on the values given only. */
export function ema(values: readonly number[], alpha: number): number {
  let average = values[0] ?? Number.NaN;
  for (let i = 1; i < values.length; i++) average = alpha * values[i]! + (1 - alpha) * average;
  return average;
}

/** Mean and sample standard deviation (n − 1); std is 0 for fewer than two values. */
export function meanAndStd(values: readonly number[]): { mean: number; std: number } {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, std: 0 };
  const mean = sma(values);
  if (n < 2) return { mean, std: 0 };
  let squares = 0;
  for (const v of values) squares += (v - mean) * (v - mean);
  return { mean, std: Math.sqrt(squares / (n - 1)) };
}

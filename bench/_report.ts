/** One benchmark result line, as docs/BENCHMARKS.md describes. */
export interface BenchResult {
  bench: string;
  case: string;
  metric: string;
  value: number;
  unit: string;
  better: "higher" | "lower";
  anchor?: string;
  anchorValue?: number;
  /** > 1 when Bulwark is better than the anchor measured in the same run. */
  ratio?: number;
}

export function report(result: BenchResult): void {
  if (result.anchorValue !== undefined && result.ratio === undefined) {
    result.ratio =
      result.better === "higher" ? result.value / result.anchorValue : result.anchorValue / result.value;
  }
  if (result.ratio !== undefined) result.ratio = Number(result.ratio.toFixed(3));
  result.value = Number(result.value.toPrecision(6));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Percentile of a sample (nearest-rank). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function summary(values: number[]): { p50: number; p95: number; p99: number; mean: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { p50: percentile(values, 50), p95: percentile(values, 95), p99: percentile(values, 99), mean };
}

export const fmt = (ms: number) => `${ms.toFixed(3)} ms`;

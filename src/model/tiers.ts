// Tiers A–D: quartiles of the training scores, A the best-scored quarter.
export type Tier = 'A' | 'B' | 'C' | 'D';
export const TIERS: readonly Tier[] = ['A', 'B', 'C', 'D'];

export interface TierCutPoints {
  A: number;
  B: number;
  C: number;
}

/** Quantile with linear interpolation between order statistics (numpy's default). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of an empty list');
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

export function tierCutPoints(scores: ArrayLike<number>): TierCutPoints {
  const sorted = Float64Array.from(scores).sort();
  return { A: quantile(sorted, 0.75), B: quantile(sorted, 0.5), C: quantile(sorted, 0.25) };
}

export function tierOf(probability: number, cuts: TierCutPoints): Tier {
  if (probability >= cuts.A) return 'A';
  if (probability >= cuts.B) return 'B';
  if (probability >= cuts.C) return 'C';
  return 'D';
}

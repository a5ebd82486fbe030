// Two models on the same leads: each one's quality, and a paired bootstrap interval of the difference.
import { brierScore, countPositives, logLoss, rocAuc, seededRandom } from './metrics.js';
import type { Tier } from './tiers.js';

export interface PairedMetric {
  champion: number;
  challenger: number;
  /** challenger − champion */
  difference: number;
  /** 95 % interval of the difference from a paired bootstrap (the same resampled leads for both models). */
  interval: [number, number];
}

export interface Comparison {
  leads: number;
  converted: number;
  roc_auc: PairedMetric;
  brier: PairedMetric;
  log_loss: PairedMetric;
  /** Leads the challenger would put in another tier. */
  tier_changes: number;
  resamples: number;
}

const METRICS = { roc_auc: rocAuc, brier: brierScore, log_loss: logLoss } as const;

/** The 2.5th and 97.5th percentiles, linear between order statistics. */
function percentileInterval(values: number[]): [number, number] {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!sorted.length) return [Number.NaN, Number.NaN];
  const at = (q: number) => {
    const position = (sorted.length - 1) * q;
    const below = Math.floor(position);
    const above = Math.min(below + 1, sorted.length - 1);
    return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
  };
  return [at(0.025), at(0.975)];
}

/**
 * Paired bootstrap: each resample draws leads with replacement and scores both models on the
 * same draw, so the interval reflects the difference between them on these leads, not the
 * (much larger) noise of each model's figure on its own. Seeded, so a report is reproducible.
 */
export function compareModels(
  labels: Uint8Array,
  champion: Float64Array,
  challenger: Float64Array,
  tiers: { champion: readonly Tier[]; challenger: readonly Tier[] },
  options: { resamples?: number; seed?: number } = {},
): Comparison {
  const n = labels.length;
  if (n === 0 || champion.length !== n || challenger.length !== n) throw new RangeError(`need the same non-empty leads for both models (labels ${n}, champion ${champion.length}, challenger ${challenger.length})`);
  const resamples = options.resamples ?? 1000;
  const random = seededRandom(options.seed ?? 20180401);
  const draws: Record<keyof typeof METRICS, number[]> = { roc_auc: [], brier: [], log_loss: [] };
  const l = new Uint8Array(n);
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) {
      const j = Math.floor(random() * n);
      l[i] = labels[j]!;
      a[i] = champion[j]!;
      b[i] = challenger[j]!;
    }
    for (const [name, metric] of Object.entries(METRICS) as [keyof typeof METRICS, (l: Uint8Array, s: Float64Array) => number][]) {
      draws[name].push(metric(l, b) - metric(l, a));
    }
  }
  const paired = (name: keyof typeof METRICS): PairedMetric => {
    const first = METRICS[name](labels, champion);
    const second = METRICS[name](labels, challenger);
    return { champion: first, challenger: second, difference: second - first, interval: percentileInterval(draws[name]) };
  };
  let changes = 0;
  for (let i = 0; i < n; i++) if (tiers.champion[i] !== tiers.challenger[i]) changes++;
  return { leads: n, converted: countPositives(labels), roc_auc: paired('roc_auc'), brier: paired('brier'), log_loss: paired('log_loss'), tier_changes: changes, resamples };
}

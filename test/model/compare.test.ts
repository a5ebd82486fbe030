import { describe, expect, it } from 'vitest';
import { compareModels, compareModelsInTurns, CountedRocAuc } from '../../src/model/compare.js';
import { brierScore, logLoss, rocAuc, seededRandom } from '../../src/model/metrics.js';
import type { Tier } from '../../src/model/tiers.js';

/** Leads with scores on a coarse grid (many ties) and labels that follow them loosely. */
function leads(n: number, seed: number) {
  const random = seededRandom(seed);
  const labels = new Uint8Array(n);
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    a[i] = Math.round(random() * 40) / 40;
    b[i] = random() < 0.5 ? a[i]! : Math.round(random() * 1000) / 1000;
    labels[i] = random() < 0.2 + 0.5 * a[i]! ? 1 : 0;
  }
  return { labels, a, b };
}

describe('CountedRocAuc', () => {
  it('gives, from draw counts, the very double rocAuc gives on the drawn leads written out', () => {
    const { labels, a } = leads(700, 3);
    const counted = new CountedRocAuc(labels, a);
    const random = seededRandom(11);
    for (let r = 0; r < 200; r++) {
      const counts = new Uint32Array(labels.length);
      const l = new Uint8Array(labels.length);
      const s = new Float64Array(labels.length);
      for (let i = 0; i < labels.length; i++) {
        const j = Math.floor(random() * labels.length);
        counts[j]!++;
        l[i] = labels[j]!;
        s[i] = a[j]!;
      }
      expect(Object.is(counted.of(counts), rocAuc(l, s)), `resample ${r}`).toBe(true);
    }
    expect(counted.of(new Uint32Array(labels.length).fill(1))).toBe(rocAuc(labels, a));
    // One class only: undefined, as rocAuc says.
    expect(counted.of(Uint32Array.from(labels, (y) => (y ? 1 : 0)))).toBeNaN();
  });
});

describe('compareModels', () => {
  it('reports the paired bootstrap a resample-by-resample computation gives, bit for bit', () => {
    const { labels, a, b } = leads(500, 5);
    const tiers = { champion: Array.from(a, (): Tier => 'C'), challenger: Array.from(b, (p): Tier => (p > 0.5 ? 'A' : 'C')) };
    const comparison = compareModels(labels, a, b, tiers, { resamples: 300, seed: 7 });
    // The same draws, each resample written out and measured with the metric functions themselves.
    const random = seededRandom(7);
    const differences = { roc_auc: [] as number[], brier: [] as number[], log_loss: [] as number[] };
    for (let r = 0; r < 300; r++) {
      const l = new Uint8Array(500);
      const x = new Float64Array(500);
      const y = new Float64Array(500);
      for (let i = 0; i < 500; i++) {
        const j = Math.floor(random() * 500);
        [l[i], x[i], y[i]] = [labels[j]!, a[j]!, b[j]!];
      }
      differences.roc_auc.push(rocAuc(l, y) - rocAuc(l, x));
      differences.brier.push(brierScore(l, y) - brierScore(l, x));
      differences.log_loss.push(logLoss(l, y) - logLoss(l, x));
    }
    const interval = (values: number[]) => {
      const sorted = [...values].sort((p, q) => p - q);
      const at = (q: number) => {
        const position = (sorted.length - 1) * q;
        const below = Math.floor(position);
        return sorted[below]! + (sorted[below + 1]! - sorted[below]!) * (position - below);
      };
      return [at(0.025), at(0.975)];
    };
    expect(comparison.roc_auc.interval).toEqual(interval(differences.roc_auc));
    expect(comparison.brier.interval).toEqual(interval(differences.brier));
    expect(comparison.log_loss.interval).toEqual(interval(differences.log_loss));
    expect(comparison.roc_auc.difference).toBe(rocAuc(labels, b) - rocAuc(labels, a));
    expect(comparison.tier_changes).toBe(tiers.challenger.filter((t) => t === 'A').length);
  });

  it('gives the same comparison in turns, letting the event loop run between them', async () => {
    const { labels, a, b } = leads(2000, 11);
    const tiers = { champion: Array.from(a, (): Tier => 'C'), challenger: Array.from(b, (): Tier => 'B') };
    let turns = 0;
    let comparing = true;
    const turn = () => {
      if (!comparing) return;
      turns++;
      setImmediate(turn);
    };
    setImmediate(turn);
    const inTurns = await compareModelsInTurns(labels, a, b, tiers, { resamples: 500, seed: 3 }).finally(() => (comparing = false));
    // 500 resamples of 2,000 leads: 50 resamples (100,000 draws) a turn, so ten turns and nine breaks.
    expect(turns).toBeGreaterThanOrEqual(9);
    expect(inTurns).toEqual(compareModels(labels, a, b, tiers, { resamples: 500, seed: 3 }));
  });
});

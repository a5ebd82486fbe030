import { describe, expect, it } from 'vitest';
import { brierScore, calibrationTable, gainsCurve, logLoss, prAuc, rocAuc, seededRandom, stratifiedFolds, topShare } from '../../src/model/metrics.js';

/** The curves as defined: indices sorted by score with a comparator, walked one tie group at a time. */
const reference = {
  rocAuc(labels: number[], scores: number[]): number {
    const positives = labels.reduce((a, b) => a + b, 0);
    const negatives = labels.length - positives;
    if (positives === 0 || negatives === 0) return Number.NaN;
    const order = labels.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
    let sum = 0;
    for (let start = 0; start < order.length; ) {
      let end = start;
      while (end + 1 < order.length && scores[order[end + 1]!] === scores[order[start]!]) end++;
      for (let i = start; i <= end; i++) sum += labels[order[i]!]! * ((start + end) / 2 + 1);
      start = end + 1;
    }
    return (sum - (positives * (positives + 1)) / 2) / (positives * negatives);
  },
  prAuc(labels: number[], scores: number[]): number {
    const positives = labels.reduce((a, b) => a + b, 0);
    if (positives === 0) return Number.NaN;
    const order = labels.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
    let truePositives = 0;
    let previousRecall = 0;
    let area = 0;
    for (let start = 0; start < order.length; ) {
      let end = start;
      while (end + 1 < order.length && scores[order[end + 1]!] === scores[order[start]!]) end++;
      for (let i = start; i <= end; i++) truePositives += labels[order[i]!]!;
      const recall = truePositives / positives;
      area += (recall - previousRecall) * (truePositives / (end + 1));
      previousRecall = recall;
      start = end + 1;
    }
    return area;
  },
};

describe('rocAuc and prAuc against their definition', () => {
  it('give the very double the definition gives, ties, zeros of both signs and one class included', () => {
    const random = seededRandom(42);
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + Math.floor(random() * 400);
      // Few distinct scores in some trials (many ties), continuous ones in others.
      const levels = trial % 3 === 0 ? 0 : 2 + Math.floor(random() * 20);
      const scores = Array.from({ length: n }, () => (levels ? Math.floor(random() * levels) / (levels - 1) : random()));
      if (trial % 7 === 0) scores[0] = -0;
      const rate = trial % 11 === 0 ? 0 : random();
      const labels = scores.map((score) => (random() < rate * (0.5 + score / 2) ? 1 : 0));
      expect(rocAuc(labels, scores), `trial ${trial}`).toBe(reference.rocAuc(labels, scores));
      expect(prAuc(labels, scores), `trial ${trial}`).toBe(reference.prAuc(labels, scores));
    }
  });

  it('are NaN when a score is NaN', () => {
    expect(rocAuc([0, 1, 1], [0.2, Number.NaN, 0.7])).toBeNaN();
    expect(prAuc([0, 1, 1], [0.2, Number.NaN, 0.7])).toBeNaN();
  });
});

describe('rocAuc', () => {
  it('matches the textbook example', () => {
    // scikit-learn's roc_auc_score docstring example: 3 of 4 positive–negative pairs ordered right.
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(0.75, 12);
  });

  it('counts tied pairs as one half', () => {
    expect(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
    // pairs (pos 0.5 vs neg 0.2) = 1, (pos 0.5 vs neg 0.5) = 1/2 → 1.5 / 2
    expect(rocAuc([0, 0, 1], [0.2, 0.5, 0.5])).toBe(0.75);
  });

  it('is 1 for a perfect ranking and NaN with one class only', () => {
    expect(rocAuc([0, 0, 1], [0.1, 0.2, 0.9])).toBe(1);
    expect(rocAuc([1, 1], [0.1, 0.2])).toBeNaN();
  });

  it('refuses mismatched lengths', () => {
    expect(() => rocAuc([0, 1], [0.5])).toThrow(RangeError);
  });
});

describe('prAuc', () => {
  it('matches average precision by hand', () => {
    // ranked: 0.8(+) P=1 R=.5; 0.4(−); 0.35(+) P=2/3 R=1 → .5·1 + .5·2/3 = 0.8333…
    expect(prAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(5 / 6, 12);
  });

  it('takes tied scores as one threshold', () => {
    // all tied: one threshold with precision 1/2 and recall 1
    expect(prAuc([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3])).toBe(0.5);
  });
});

describe('probability scores', () => {
  it('computes the Brier score', () => {
    expect(brierScore([0, 1], [0.2, 0.6])).toBeCloseTo((0.04 + 0.16) / 2, 15);
  });

  it('computes log loss and clips certainties', () => {
    expect(logLoss([1, 0], [0.8, 0.4])).toBeCloseTo(-(Math.log(0.8) + Math.log(0.6)) / 2, 15);
    expect(logLoss([1], [0])).toBeCloseTo(-Math.log(1e-15), 6);
  });
});

describe('topShare and gains', () => {
  const labels = [1, 0, 1, 0, 0, 0, 0, 0, 1, 0];
  const scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05];

  it('measures captured conversions and lift in the top slice', () => {
    // top 20 % = 2 leads with 1 of 3 conversions; rate 1/2 over base 3/10
    const top = topShare(labels, scores, 0.2);
    expect(top.leads).toBe(2);
    expect(top.captured).toBeCloseTo(1 / 3, 12);
    expect(top.lift).toBeCloseTo(0.5 / 0.3, 12);
  });

  it('traces the gains curve', () => {
    expect([...gainsCurve(labels, scores)].map((x) => Number(x.toFixed(4)))).toEqual([0, 0.3333, 0.3333, 0.6667, 0.6667, 0.6667, 0.6667, 0.6667, 0.6667, 1, 1]);
  });
});

describe('calibrationTable', () => {
  it('bins predictions by width and reports observed rates', () => {
    const table = calibrationTable([0, 1, 1, 0, 1], [0.05, 0.15, 0.12, 0.18, 1]);
    expect(table).toHaveLength(10);
    expect(table[0]).toEqual({ lower: 0, upper: 0.1, count: 1, meanPredicted: 0.05, observedRate: 0 });
    expect(table[1]!.count).toBe(3);
    expect(table[1]!.meanPredicted).toBeCloseTo(0.15, 12);
    expect(table[1]!.observedRate).toBeCloseTo(2 / 3, 12);
    expect(table[9]).toMatchObject({ count: 1, observedRate: 1 }); // 1.0 lands in the last bin
    expect(table[5]).toMatchObject({ count: 0, meanPredicted: null, observedRate: null });
  });
});

describe('stratifiedFolds', () => {
  it('deals each class evenly over the folds, reproducibly', () => {
    const labels = Array.from({ length: 103 }, (_, i) => (i % 10 === 0 ? 1 : 0));
    const folds = stratifiedFolds(labels, 5, 1);
    for (let f = 0; f < 5; f++) {
      const members = labels.filter((_, i) => folds[i] === f);
      expect(members.length).toBeGreaterThanOrEqual(20);
      expect(members.filter((y) => y === 1).length).toBeGreaterThanOrEqual(2);
    }
    expect(stratifiedFolds(labels, 5, 1)).toEqual(folds);
  });
});

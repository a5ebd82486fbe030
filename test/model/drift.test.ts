import { describe, expect, it } from 'vitest';
import type { LabelledLead } from '../../src/features/lead.js';
import { extractCategory, type FeatureName } from '../../src/features/pipeline.js';
import {
  binLead,
  leadBinner,
  categoryBin,
  countLeads,
  DriftReferenceSchema,
  driftReport,
  driftStatus,
  featureBins,
  jensenShannonDistance,
  mergeCounts,
  populationStabilityIndex,
  REST,
  scoreBin,
} from '../../src/model/drift.js';
import { seededRandom } from '../../src/model/metrics.js';
import { scoreLeads } from '../../src/model/training.js';
import { trainedFixture } from './helpers.js';

const reference = () => trainedFixture().outcome.artifact.reference;

function sample<T>(items: readonly T[], n: number, seed: number): T[] {
  const random = seededRandom(seed);
  const pool = [...items];
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, n);
}

function reportFor(leads: readonly LabelledLead[], topK?: number) {
  const { outcome } = trainedFixture();
  return driftReport(reference(), countLeads(reference(), leads, scoreLeads(outcome.final, leads), topK), topK ? { topK } : {});
}

describe('drift statistics', () => {
  it('computes PSI by hand, with ε keeping empty bins finite', () => {
    // (0.6 − 0.5)·ln(0.6/0.5) + (0.4 − 0.5)·ln(0.4/0.5), with ε small enough not to matter at 1e-6
    expect(populationStabilityIndex([0.5, 0.5], [0.6, 0.4], 1e-12)).toBeCloseTo(0.1 * Math.log(1.2) - 0.1 * Math.log(0.8), 9);
    expect(populationStabilityIndex([5, 5], [6, 4], 1e-12)).toBeCloseTo(populationStabilityIndex([0.5, 0.5], [0.6, 0.4], 1e-12), 12); // counts or shares
    expect(populationStabilityIndex([0.3, 0.7], [0.3, 0.7])).toBe(0);
    const empty = populationStabilityIndex([0.5, 0.5, 0], [0.4, 0.4, 0.2]);
    expect(Number.isFinite(empty)).toBe(true);
    expect(empty).toBeGreaterThan(0.25);
    expect(() => populationStabilityIndex([1], [1, 0])).toThrow(RangeError);
  });

  it('computes the Jensen–Shannon distance: 0 for equal, 1 for disjoint distributions', () => {
    expect(jensenShannonDistance([0.2, 0.8], [0.2, 0.8])).toBe(0);
    expect(jensenShannonDistance([1, 0], [0, 1])).toBeCloseTo(1, 12);
    // [1, 0] against [½, ½]: m = [¾, ¼], divergence ½·log2(1/¾) + ½·(½·log2(½/¾) + ½·log2(½/¼)) ≈ 0.3113, distance its root
    const m = [0.75, 0.25];
    const divergence = 0.5 * (1 * Math.log2(1 / m[0]!)) + 0.5 * (0.5 * Math.log2(0.5 / m[0]!) + 0.5 * Math.log2(0.5 / m[1]!));
    expect(jensenShannonDistance([1, 0], [0.5, 0.5])).toBeCloseTo(Math.sqrt(divergence), 12);
  });

  it('reads the thresholds and the minimum count', () => {
    expect(driftStatus(0.099, 500)).toBe('stable');
    expect(driftStatus(0.1, 500)).toBe('moderate');
    expect(driftStatus(0.25, 500)).toBe('moderate');
    expect(driftStatus(0.2501, 500)).toBe('significant');
    expect(driftStatus(3, 499)).toBe('insufficient_data');
    expect(driftStatus(null, 1000)).toBe('insufficient_data');
  });
});

describe('the training reference and its bins', () => {
  it('records every kept category’s share, "(other)" at zero, score deciles and tier shares', () => {
    const { outcome, leads } = trainedFixture();
    const ref = DriftReferenceSchema.parse(reference());
    expect(ref.leads).toBe(leads.length);
    const pages = ref.features.find((f) => f.feature === 'landing_page_id')!.shares;
    expect(pages['(other)']).toBe(0);
    expect(Object.keys(pages).sort()).toEqual([...outcome.artifact.pipeline.steps[1]!.categories].sort());
    expect(Object.values(pages).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(ref.score.shares).toHaveLength(ref.score.edges.length + 1);
    expect(ref.score.shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(ref.tiers.A + ref.tiers.B + ref.tiers.C + ref.tiers.D).toBeCloseTo(1, 12);
    expect(ref.tiers.A).toBeGreaterThan(0.15);
  });

  it('bins a high-cardinality feature as its top K, the rest, and "(other)"', () => {
    const ref = reference();
    const pages = featureBins(ref, 'landing_page_id', 5);
    expect(pages.bins).toHaveLength(7);
    expect(pages.bins.slice(-2)).toEqual([REST, '(other)']);
    expect(pages.expected.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const shares = ref.features.find((f) => f.feature === 'landing_page_id')!.shares;
    const busiest = Object.entries(shares).sort(([, a], [, b]) => b - a)[0]![0];
    expect(categoryBin(ref, 'landing_page_id', busiest, 5)).toBe(busiest);
    const quiet = Object.entries(shares).filter(([c]) => c !== '(other)').sort(([, a], [, b]) => a - b)[0]![0];
    expect(categoryBin(ref, 'landing_page_id', quiet, 5)).toBe(REST);
    expect(categoryBin(ref, 'landing_page_id', 'a-page-never-seen', 5)).toBe('(other)');
    expect(categoryBin(ref, 'landing_page_id', REST, 5)).toBe(REST); // bin names pass through
  });

  it('bins scores on the decile edges, an edge going to the bin above', () => {
    const ref = reference();
    const { edges } = ref.score;
    expect(scoreBin(ref, 0)).toBe('d1');
    expect(scoreBin(ref, edges[0]!)).toBe('d2');
    expect(scoreBin(ref, 1)).toBe(`d${edges.length + 1}`);
    expect(() => scoreBin(ref, Number.NaN)).toThrow(/probability must be in \[0, 1\]/);
    const { leads, outcome } = trainedFixture();
    expect(binLead(ref, { ...leads[0]!, landing_page_id: 'new' }, scoreLeads(outcome.final, [leads[0]!])[0]!)).toMatchObject({ landing_page_id: '(other)', score: expect.stringMatching(/^d\d+$/) });
  });

  it('bins many leads as categoryBin and scoreBin bin each value, kept, rest, never-seen and missing alike', () => {
    const ref = reference();
    const { leads, outcome } = trainedFixture();
    const varied = [...leads.slice(0, 400), { ...leads[0]!, landing_page_id: 'new' }, { ...leads[1]!, origin: null }, { ...leads[2]!, origin: 'a-channel-never-seen' }];
    const probabilities = [...scoreLeads(outcome.final, varied), 0, 1];
    const bin = leadBinner(ref, 5);
    const seen = new Set<string>();
    varied.concat(leads.slice(0, 2)).forEach((lead, i) => {
      const bins: Record<string, string> = {};
      bin(lead, probabilities[i]!, (feature, value) => (bins[feature] = value));
      const one = (feature: FeatureName) => categoryBin(ref, feature, extractCategory(feature, lead), 5);
      expect(bins).toEqual({ ...Object.fromEntries(ref.features.map(({ feature }) => [feature, one(feature)])), score: scoreBin(ref, probabilities[i]!) });
      expect(binLead(ref, lead, probabilities[i]!, 5)).toEqual(bins);
      Object.values(bins).forEach((value) => seen.add(value));
    });
    for (const kind of [REST, '(other)', '(missing)', 'd1', `d${ref.score.edges.length + 1}`]) expect(seen, kind).toContain(kind);
    expect(() => bin(leads[0]!, Number.NaN, () => {})).toThrow(/probability must be in \[0, 1\]/);
  });
});

describe('driftReport', () => {
  it('reads random samples of the training leads as stable from the minimum count on', () => {
    const { leads } = trainedFixture();
    for (const seed of [1, 2, 3, 4, 5]) {
      const report = reportFor(sample(leads, 500, seed));
      expect(report.count).toBe(500);
      for (const feature of report.features) expect([feature.feature, feature.status]).toEqual([feature.feature, 'stable']);
    }
  });

  it('reads a one-channel stream as significant, and 100 leads as insufficient data', () => {
    const { leads } = trainedFixture();
    const emails = sample(leads, 600, 9).map((lead) => ({ ...lead, origin: 'email' }));
    const origin = reportFor(emails).features.find((f) => f.feature === 'origin')!;
    expect(origin.status).toBe('significant');
    expect(origin.top_movers[0]).toMatchObject({ bin: 'email', observed: 1 });
    expect(origin.top_movers).toHaveLength(5);
    const few = reportFor(sample(leads, 100, 3));
    expect(few.status).toBe('insufficient_data');
    for (const feature of few.features) expect(feature.status).toBe('insufficient_data');
  });

  it('gives the same report from counts kept in separate buckets and merged', () => {
    const { leads } = trainedFixture();
    const { outcome } = trainedFixture();
    const [first, second] = [sample(leads, 600, 1).slice(0, 300), sample(leads, 600, 1).slice(300)];
    const counts = (part: typeof first) => countLeads(reference(), part, scoreLeads(outcome.final, part));
    expect(driftReport(reference(), mergeCounts(counts(first), counts(second)))).toEqual(driftReport(reference(), counts([...first, ...second])));
  });

  it('takes raw categories or bin names, and refuses what it cannot count', () => {
    const ref = reference();
    const shares = ref.features.find((f) => f.feature === 'origin')!.shares;
    const raw = Object.fromEntries(Object.entries(shares).map(([category, share]) => [category, Math.round(share * 1000)]));
    const report = driftReport(ref, { origin: { ...raw, 'brand-new-channel': 30 } });
    const origin = report.features.find((f) => f.feature === 'origin')!;
    expect(origin.bins.find((b) => b.bin === '(other)')!.count).toBe(30);
    expect(report.features.find((f) => f.feature === 'score')!).toMatchObject({ count: 0, psi: null, status: 'insufficient_data' });
    expect(() => driftReport(ref, { score: { d99: 3 } })).toThrow(/observed.score has an unknown score bin "d99"/);
    expect(() => driftReport(ref, { origin: { email: -1 } })).toThrow(/observed.origin\["email"\] must be a count ≥ 0/);
  });
});

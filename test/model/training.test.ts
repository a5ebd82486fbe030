import { describe, expect, it } from 'vitest';
import { Scorer } from '../../src/model/scorer.js';
import { addMonths, fitLeads, scoreLeads, selectHyperParameters, splitByDate, crossValidatedAuc } from '../../src/model/training.js';
import { tierCutPoints, tierOf, quantile } from '../../src/model/tiers.js';
import { generateLeads } from '../fixtures/olist.js';
import { trainedFixture } from './helpers.js';

describe('trainLeadModel', () => {
  it('writes a self-consistent artifact that learned the signal', () => {
    const { outcome, leads } = trainedFixture();
    const { artifact } = outcome;
    expect(artifact.training_data).toMatchObject({ leads: 3000, converted: leads.filter((l) => l.converted).length });
    expect(artifact.metrics.train_leads + artifact.metrics.holdout.leads).toBe(3000);
    expect(artifact.metrics.holdout.rocAuc).toBeGreaterThan(0.6); // the generator plants page and origin effects
    expect(artifact.metrics.holdout.brier).toBeLessThan(artifact.metrics.holdout_base_rate.brier);
    expect(artifact.model.solver.gradient_max_norm).toBeLessThan(1e-6);
    expect(artifact.selection.candidates).toBe(4);
    expect(artifact.model_version).toMatch(/^20260102\.[0-9a-f]{8}$/);
  });

  it('scores every lead with the same bits in the scorer as in training', () => {
    const { outcome, leads } = trainedFixture();
    const scorer = new Scorer(outcome.artifact);
    const trainingScores = scoreLeads(outcome.final, leads);
    leads.forEach((lead, i) => expect(scorer.probability(lead)).toBe(trainingScores[i]));
    leads.slice(0, 50).forEach((lead, i) => expect(scorer.score(lead).probability).toBe(trainingScores[i]));
  });

  it('explains a score as log-odds contributions, largest first, that add up', () => {
    const { outcome, leads } = trainedFixture();
    const score = new Scorer(outcome.artifact).score({ ...leads[0]!, landing_page_id: 'never-seen' });
    expect(score.explanation.map((c) => c.feature).sort()).toEqual(['landing_page_id', 'origin']);
    expect(score.explanation.find((c) => c.feature === 'landing_page_id')!.value).toBe('(other)');
    const [first, second] = score.explanation;
    expect(Math.abs(first!.contribution)).toBeGreaterThanOrEqual(Math.abs(second!.contribution));
    const z = outcome.artifact.model.intercept + first!.contribution + second!.contribution;
    expect(score.probability).toBeCloseTo(1 / (1 + Math.exp(-z)), 14);
  });

  it('puts a quarter of the training leads in each tier, A the best', () => {
    const { outcome, leads } = trainedFixture();
    const scorer = new Scorer(outcome.artifact);
    const counts = { A: 0, B: 0, C: 0, D: 0 };
    for (const lead of leads) counts[scorer.score(lead).tier]++;
    // one-hot scores tie in blocks, so quarters are approximate
    expect(counts.A).toBeGreaterThan(450);
    expect(counts.D).toBeGreaterThan(300);
    expect(counts.A + counts.B + counts.C + counts.D).toBe(3000);
  });
});

describe('model selection', () => {
  it('validates on the months just before the holdout, fitting only on earlier leads', () => {
    const leads = generateLeads(1200, 9);
    const selection = selectHyperParameters(leads.filter((l) => l.first_contact_date < '2018-04-01'), '2018-04-01', { C: [0.1, 1], minCategoryCount: [1], features: [['origin']] });
    expect(selection.validateFrom).toBe('2018-02-01');
    expect(selection.fitLeads + selection.validationLeads).toBe(leads.filter((l) => l.first_contact_date < '2018-04-01').length);
    expect(selection.validationLeads).toBe(leads.filter((l) => l.first_contact_date >= '2018-02-01' && l.first_contact_date < '2018-04-01').length);
    expect(selection.candidates).toHaveLength(2);
    expect(selection.best.validationAuc).toBe(Math.max(...selection.candidates.map((c) => c.validationAuc)));
  });

  it('splits by day and shifts months', () => {
    const { before, after } = splitByDate([{ first_contact_date: '2018-03-31T23:59:00Z' }, { first_contact_date: '2018-04-01' }] as never[], '2018-04-01');
    expect([before.length, after.length]).toEqual([1, 1]);
    expect(addMonths('2018-04-01', -2)).toBe('2018-02-01');
    expect(addMonths('2018-01-01', -1)).toBe('2017-12-01');
  });

  it('cross-validates with every fold scored', () => {
    const cv = crossValidatedAuc(generateLeads(1000, 4), { features: ['origin', 'landing_page_id'], minCategoryCount: 1, C: 1 });
    expect(cv.aucs).toHaveLength(5);
    for (const auc of cv.aucs) expect(auc).toBeGreaterThan(0.5);
  });

  it('refits deterministically', () => {
    const leads = generateLeads(800, 2);
    const params = { features: ['origin', 'landing_page_id'] as ('origin' | 'landing_page_id')[], minCategoryCount: 2, C: 0.3 };
    expect(fitLeads(leads, params).fit.weights).toEqual(fitLeads(leads, params).fit.weights);
  });
});

describe('tiers', () => {
  it('cuts at the quartiles with linear interpolation', () => {
    expect(quantile([1, 2, 3, 4, 5], 0.25)).toBe(2);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    const cuts = tierCutPoints([0.4, 0.1, 0.3, 0.2, 0.5]);
    expect(cuts).toEqual({ A: 0.4, B: 0.3, C: 0.2 });
    expect([0.45, 0.4, 0.35, 0.2, 0.19].map((p) => tierOf(p, cuts))).toEqual(['A', 'A', 'B', 'C', 'D']);
  });
});

import { describe, expect, it } from 'vitest';
import { isoDay } from '../../src/features/lead.js';
import { interceptShift } from '../../src/model/recalibration.js';
import { Scorer } from '../../src/model/scorer.js';
import {
  addMonths,
  aucStandardError,
  ConvergenceError,
  crossValidatedAuc,
  dayAfter,
  endOfData,
  fitLeads,
  lastFullMonth,
  LeadTimeline,
  leadsBetween,
  logOddsOf,
  monthlyWindows,
  monthsOf,
  rollingOrigin,
  scoreLeads,
  splitByDate,
} from '../../src/model/training.js';
import { rocAuc, seededRandom } from '../../src/model/metrics.js';
import { quantile, tierCutPoints, tierOf } from '../../src/model/tiers.js';
import { generateLeads } from '../fixtures/olist.js';
import { trainedFixture } from './helpers.js';

const day = (lead: { first_contact_date: string }) => isoDay(lead.first_contact_date);

describe('trainLeadModel', () => {
  it('writes a self-consistent artifact that learned the signal', () => {
    const { outcome, leads } = trainedFixture();
    const { artifact } = outcome;
    expect(artifact.training_data).toMatchObject({ leads: 3000, converted: leads.filter((l) => l.converted).length });
    expect(artifact.metrics.train_leads + artifact.metrics.holdout.leads).toBe(3000);
    expect(artifact.metrics.holdout.rocAuc).toBeGreaterThan(0.6); // the generator plants page and origin effects
    expect(artifact.metrics.holdout.brier).toBeLessThan(artifact.metrics.holdout_base_rate.brier);
    expect(artifact.model.solver).toMatchObject({ converged: true, tolerance: outcome.final.fit.tolerance, iterations: outcome.final.fit.iterations, max_iterations: outcome.final.fit.maxIterations });
    expect(artifact.model.solver.gradient_max_norm).toBeLessThan(artifact.model.solver.tolerance);
    expect(artifact.pipeline.settings).toEqual({ features: ['origin', 'landing_page_id'], minCategoryCount: 1 });
    expect(artifact.model_version).toMatch(/^20260102\.[0-9a-f]{8}$/);
  });

  it('chooses the shipped C on the three months before the end of the data, the holdout C on those before the holdout', () => {
    const { artifact, leads } = { ...trainedFixture().outcome, leads: trainedFixture().leads };
    expect(endOfData(leads)).toBe(dayAfter(leads.map(day).sort().at(-1)!));
    expect(artifact.selection.cutoff).toBe('2018-06-01');
    expect(artifact.selection.windows.map((w) => w.from)).toEqual(['2018-03-01', '2018-04-01', '2018-05-01']);
    expect(artifact.metrics.holdout_model.selection.windows.map((w) => [w.from, w.until])).toEqual([['2018-01-01', '2018-02-01'], ['2018-02-01', '2018-03-01'], ['2018-03-01', '2018-04-01']]);
    expect(artifact.selection.grid).toEqual([0.1, 0.3, 1]);
    expect(artifact.selection.candidates.map((c) => c.C)).toEqual([0.1, 0.3, 1]);
    for (const candidate of artifact.selection.candidates) expect(candidate.windows).toHaveLength(3);
    expect(artifact.model.solver.C).toBe(artifact.selection.chosen.C);
    expect(artifact.model.recalibration).toMatchObject({ method: 'last-month', month: '2018-05' });
  });

  it('stores the rolling-origin evaluation of the last five months, each month trained on every lead before it', () => {
    const { outcome, leads } = trainedFixture();
    const ro = outcome.artifact.metrics.rolling_origin;
    expect(ro.months.map((m) => m.month)).toEqual(['2018-01', '2018-02', '2018-03', '2018-04', '2018-05']);
    for (const m of ro.months) {
      expect(m.train_leads).toBe(leads.filter((l) => day(l) < `${m.month}-01`).length);
      expect(m.leads).toBe(leads.filter((l) => day(l).startsWith(m.month)).length);
    }
    expect(ro.mean.roc_auc).toBeCloseTo(ro.months.reduce((s, m) => s + m.roc_auc, 0) / 5, 12);
    expect(ro.mean.roc_auc).toBeGreaterThan(ro.base_rate_mean.roc_auc);
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

  it('puts a quarter of the training leads in each tier (cut after the shift), A the best', () => {
    const { outcome, leads } = trainedFixture();
    const scorer = new Scorer(outcome.artifact);
    const counts = { A: 0, B: 0, C: 0, D: 0 };
    for (const lead of leads) counts[scorer.score(lead).tier]++;
    // one-hot scores tie in blocks, so quarters are approximate
    expect(counts.A).toBeGreaterThan(450);
    expect(counts.D).toBeGreaterThan(300);
    expect(counts.A + counts.B + counts.C + counts.D).toBe(3000);
    expect(outcome.artifact.tiers).toEqual(tierCutPoints(scoreLeads(outcome.final, leads)));
  });
});

describe('time windows', () => {
  it('splits by day, shifts months and names the windows before a cut-off', () => {
    const { before, after } = splitByDate([{ first_contact_date: '2018-03-31T23:59:00Z' }, { first_contact_date: '2018-04-01' }] as never[], '2018-04-01');
    expect([before.length, after.length]).toEqual([1, 1]);
    expect(addMonths('2018-04-01', -2)).toBe('2018-02-01');
    expect(addMonths('2018-01-01', -1)).toBe('2017-12-01');
    expect(addMonths('2018-03-31', -1)).toBe('2018-02-28');
    expect(monthlyWindows('2018-04-01', 3)).toEqual([
      { from: '2018-01-01', until: '2018-02-01' },
      { from: '2018-02-01', until: '2018-03-01' },
      { from: '2018-03-01', until: '2018-04-01' },
    ]);
    expect(lastFullMonth('2018-04-01')).toEqual({ from: '2018-03-01', until: '2018-04-01' });
    expect(lastFullMonth('2018-04-17')).toEqual({ from: '2018-03-01', until: '2018-04-01' });
    expect(dayAfter('2018-05-31')).toBe('2018-06-01');
  });

  it('puts each lead of a fixture in the right rolling-origin fold', () => {
    // Two leads a month from 2017-10 to 2018-03, one converted and one not, so every fold can be scored.
    const leads = ['2017-10', '2017-11', '2017-12', '2018-01', '2018-02', '2018-03'].flatMap((month, m) => [
      { mql_id: `${month}-a`, first_contact_date: `${month}-03`, landing_page_id: `p${m % 2}`, origin: 'social', converted: true, won_date: `${month}-20 10:00:00` },
      { mql_id: `${month}-b`, first_contact_date: `${month}-28`, landing_page_id: `p${(m + 1) % 2}`, origin: 'email', converted: false },
    ]);
    expect(monthsOf(leads)).toEqual(['2017-10-01', '2017-11-01', '2017-12-01', '2018-01-01', '2018-02-01', '2018-03-01']);
    const timeline = new LeadTimeline(leads, { grid: [0.1], windows: 1, recalibrate: 'none' });
    const ro = rollingOrigin(timeline, 3);
    expect(ro.months.map((m) => [m.month, m.train_leads, m.leads, m.converted])).toEqual([
      ['2018-01', 6, 2, 1],
      ['2018-02', 8, 2, 1],
      ['2018-03', 10, 2, 1],
    ]);
    const selection = timeline.select('2018-03-01');
    expect(selection.windows).toEqual([{ from: '2018-02-01', until: '2018-03-01', fit_leads: 8, leads: 2, converted: 1, pairs: 1, scored: true }]);
    expect(leadsBetween(leads, '2018-02-01', '2018-03-01').map((l) => l.mql_id)).toEqual(['2018-02-a', '2018-02-b']);
    expect(() => rollingOrigin(timeline, 7)).toThrow(/needs 7 months of data; the leads span 6/);
  });
});

describe('choosing C', () => {
  const leads = generateLeads(2400, 9);
  const timeline = new LeadTimeline(leads, { grid: [0.1, 0.3, 1], windows: 3, recalibrate: 'last-month' });

  it('averages window AUCs weighted by positive × negative pairs, each window fitted on every earlier lead', () => {
    const selection = timeline.select('2018-04-01');
    for (const w of selection.windows) {
      expect(w.fit_leads).toBe(leads.filter((l) => day(l) < w.from).length);
      expect(w.leads).toBe(leadsBetween(leads, w.from, w.until).length);
      expect(w.pairs).toBe(w.converted * (w.leads - w.converted));
    }
    const total = selection.windows.reduce((s, w) => s + w.pairs, 0);
    for (const c of selection.candidates) {
      expect(c.roc_auc).toBeCloseTo(c.windows.reduce((s, w, i) => s + w.roc_auc! * selection.windows[i]!.pairs, 0) / total, 12);
      // the first window, recomputed by hand: fit on everything before it, score it
      const first = selection.windows[0]!;
      const before = leads.filter((l) => day(l) < first.from);
      const window = leadsBetween(leads, first.from, first.until);
      const scores = scoreLeads(fitLeads(before, { features: ['origin', 'landing_page_id'], minCategoryCount: 1, C: c.C }), window);
      expect(c.windows[0]!.roc_auc).toBeCloseTo(rocAuc(Uint8Array.from(window, (l) => (l.converted ? 1 : 0)), scores), 12);
    }
  });

  it('takes the smallest C within one standard error of the best, or the best under the plain rule', () => {
    const selection = timeline.select('2018-04-01');
    const best = selection.candidates.reduce((a, b) => (b.roc_auc > a.roc_auc ? b : a));
    expect(selection.best_C).toBe(best.C);
    expect(selection.threshold_auc).toBeCloseTo(best.roc_auc - best.roc_auc_se, 15);
    expect(selection.chosen.C).toBe(Math.min(...selection.candidates.filter((c) => c.roc_auc >= selection.threshold_auc).map((c) => c.C)));
    const plain = new LeadTimeline(leads, { grid: [0.1, 0.3, 1], windows: 3, recalibrate: 'last-month', rule: 'best' }).select('2018-04-01');
    expect(plain.chosen.C).toBe(best.C);
  });

  it('computes the Hanley–McNeil standard error of an AUC', () => {
    // Hanley and McNeil (1982), worked example: AUC 0.5 with 50 and 50 cases: (0.25 + 49·(1/3 − 1/4)·2) / 2500.
    expect(aucStandardError(0.5, 50, 50)).toBeCloseTo(Math.sqrt((0.25 + 49 * (1 / 3 - 0.25) * 2) / 2500), 12);
    expect(aucStandardError(0.8, 200, 800)).toBeLessThan(aucStandardError(0.8, 20, 80));
  });

  it('leaves out windows with nothing before them to fit on, and refuses when none is left', () => {
    const early = timeline.select('2017-08-01');
    expect(early.windows.map((w) => [w.from, w.scored])).toEqual([['2017-05-01', false], ['2017-06-01', false], ['2017-07-01', true]]);
    expect(early.candidates[0]!.windows[0]).toEqual({ roc_auc: null, log_loss: null });
    expect(() => timeline.select('2017-06-01')).toThrow('cannot choose C before 2017-06-01: none of the windows 2017-03, 2017-04, 2017-05 has converted and unconverted leads, and both before it to fit on');
  });
});

describe('intercept shift', () => {
  it('matches the observed rate to 1e-9 without changing the ranking', () => {
    const random = seededRandom(5);
    const logOdds = Float64Array.from({ length: 700 }, () => -3 + 4 * random());
    for (const converted of [1, 35, 350, 699]) {
      const { shift, meanAfter } = interceptShift(logOdds, converted);
      const shifted = logOdds.map((z) => 1 / (1 + Math.exp(-(z + shift))));
      expect(shifted.reduce((a, b) => a + b, 0) / shifted.length).toBeCloseTo(converted / 700, 9);
      expect(meanAfter).toBeCloseTo(converted / 700, 12);
      const order = (values: ArrayLike<number>) => Array.from(values, (_, i) => i).sort((a, b) => values[a]! - values[b]! || a - b);
      expect(order(shifted)).toEqual(order(logOdds));
    }
    expect(() => interceptShift(logOdds, 0)).toThrow(/shift would be infinite/);
    expect(() => interceptShift(logOdds, 700)).toThrow(/shift would be infinite/);
  });

  it('moves the trained model to the last full month: mean prediction = its rate, ranking kept', () => {
    const { outcome, leads } = trainedFixture();
    const month = leadsBetween(leads, '2018-05-01', '2018-06-01');
    const scores = scoreLeads(outcome.final, month);
    const rate = month.filter((l) => l.converted).length / month.length;
    expect(scores.reduce((a, b) => a + b, 0) / scores.length).toBeCloseTo(rate, 9);
    const unshifted = logOddsOf({ ...outcome.final, model: outcome.final.fit }, month);
    const shifted = logOddsOf(outcome.final, month);
    expect(rocAuc(Uint8Array.from(month, (l) => (l.converted ? 1 : 0)), shifted)).toBe(rocAuc(Uint8Array.from(month, (l) => (l.converted ? 1 : 0)), unshifted));
    shifted.forEach((z, i) => expect(z - unshifted[i]!).toBeCloseTo(outcome.artifact.model.recalibration.shift, 12));
    expect(outcome.artifact.model.intercept).toBe(outcome.final.fit.intercept + outcome.artifact.model.recalibration.shift);
    expect(outcome.artifact.model.recalibration.observed_rate).toBeCloseTo(rate, 15);
  });

  it('can be turned off', () => {
    const leads = generateLeads(1500, 4);
    const model = new LeadTimeline(leads, { grid: [0.3], windows: 2, recalibrate: 'none' }).train('2018-06-01');
    expect(model.recalibration).toMatchObject({ method: 'none', month: null, shift: 0 });
    expect(model.fitted.model).toBe(model.fitted.fit);
  });
});

describe('solver checks in training', () => {
  it('fails with a clear message when the solver did not converge', () => {
    const leads = generateLeads(600, 2);
    expect(() => fitLeads(leads, { features: ['origin', 'landing_page_id'], minCategoryCount: 1, C: 1 }, { maxIterations: 1 })).toThrow(ConvergenceError);
    expect(() => fitLeads(leads, { features: ['origin', 'landing_page_id'], minCategoryCount: 1, C: 1 }, { maxIterations: 1 })).toThrow(
      /the solver did not converge on 600 leads at C=1: the gradient's largest component is .* after 1 iterations \(tolerance 1e-8\)/,
    );
  });

  it('cross-validates with every fold scored, and refits deterministically', () => {
    const cv = crossValidatedAuc(generateLeads(1000, 4), { features: ['origin', 'landing_page_id'], minCategoryCount: 1, C: 1 });
    expect(cv.aucs).toHaveLength(5);
    for (const auc of cv.aucs) expect(auc).toBeGreaterThan(0.5);
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

// Training procedure: a fixed feature set, C chosen on the months before each cut-off, an intercept
// that follows the latest month, and the rolling-origin evaluation a monthly retrain is judged by.
import { createHash } from 'node:crypto';
import type { LabelledLead, Lead } from '../features/lead.js';
import { isoDay } from '../features/lead.js';
import { Pipeline, type FeatureName, type PipelineSettings } from '../features/pipeline.js';
import { fitLogistic, linearScore, predictProbabilities, type FitResult, type LogisticModel } from './logistic.js';
import { ARTIFACT_FORMAT, ARTIFACT_FORMAT_VERSION, canonicalJson, sealArtifact, type Artifact, type ArtifactBody, type TrainingSource } from './artifact.js';
import { buildDriftReference } from './drift.js';
import { fitReferencePipeline } from './reference-pipeline.js';
import { interceptShift } from './recalibration.js';
import { tierCutPoints } from './tiers.js';
import { brierScore, countPositives, evaluate, logLoss, rocAuc, stratifiedFolds, type Evaluation } from './metrics.js';

/**
 * The feature set is a decision, not a search result: with about 150 conversions a month the
 * noise of one validation window's AUC (≈ 0.02) exceeds the differences between feature sets,
 * so a search picks a different set almost every month. Origin and landing page, every
 * category kept (L2 shrinks a rare page's weight instead of a threshold dropping it), were the
 * best fixed recipe over the monthly retrains (README, "Feature choice").
 */
export const FEATURES: readonly FeatureName[] = ['origin', 'landing_page_id'];
export const MIN_CATEGORY_COUNT = 1;
/**
 * Only C is searched, over a grid small enough that window noise cannot pick an outlier. 0.03 is
 * left out: on the validation windows of every cut-off from 2018-01 to 2018-06 it scored below
 * C = 0.1 on both AUC and log loss, and the one-standard-error rule below, which prefers the
 * most regularised C the windows cannot tell from the best, would otherwise pick it for that
 * reason alone (README, "Model choice").
 */
export const C_GRID: readonly number[] = [0.1, 0.3, 1];
export const SELECTION_WINDOWS = 3;
export const ROLLING_ORIGIN_MONTHS = 5;

export type Recalibration = 'last-month' | 'none';
export const RECALIBRATIONS: readonly Recalibration[] = ['last-month', 'none'];

export interface HyperParameters extends PipelineSettings {
  C: number;
}

export interface FittedModel {
  pipeline: Pipeline;
  /** The solver's result, before any intercept shift. */
  fit: FitResult;
  /** What scores: the fit's weights and its intercept plus the shift (equal to the fit without one). */
  model: LogisticModel;
  fitMs: number;
}

export function labelsOf(leads: readonly LabelledLead[]): Uint8Array {
  return Uint8Array.from(leads, (lead) => (lead.converted ? 1 : 0));
}

export class ConvergenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConvergenceError';
  }
}

function designOf(pipeline: Pipeline, leads: readonly Lead[]) {
  return { rows: leads.length, activePerRow: pipeline.stepCount, featureCount: pipeline.featureCount, indices: pipeline.transformAll(leads) };
}

function checkConverged(fit: FitResult, leads: number, C: number): void {
  if (!fit.converged) {
    throw new ConvergenceError(
      `the solver did not converge on ${leads} leads at C=${C}: the gradient's largest component is ${fit.gradientMaxNorm.toExponential(2)} after ${fit.iterations} iterations (tolerance ${fit.tolerance})`,
    );
  }
}

/** Fits one C; fails when the solver did not converge, so no unconverged model is ever used. */
export function fitLeads(leads: readonly LabelledLead[], params: HyperParameters, solver: { maxIterations?: number; tolerance?: number } = {}): FittedModel {
  return fitPath(leads, { features: params.features, minCategoryCount: params.minCategoryCount }, [params.C], solver)[0]!;
}

/**
 * Fits each C in turn on one design, each fit starting from the previous one's weights: along
 * an ascending grid the optimum moves little, so the warm start saves Newton iterations.
 */
export function fitPath(leads: readonly LabelledLead[], settings: PipelineSettings, Cs: readonly number[], solver: { maxIterations?: number; tolerance?: number } = {}): FittedModel[] {
  const started = performance.now();
  const pipeline = new Pipeline(settings).fit(leads);
  const design = designOf(pipeline, leads);
  const labels = labelsOf(leads);
  const models: FittedModel[] = [];
  let previous: LogisticModel | undefined;
  let mark = started;
  for (const C of Cs) {
    const fit = fitLogistic(design, labels, { C, initial: previous, ...solver });
    checkConverged(fit, leads.length, C);
    const now = performance.now();
    models.push({ pipeline, fit, model: fit, fitMs: now - mark });
    mark = now;
    previous = fit;
  }
  return models;
}

/** Log-odds of each lead under a fitted model. */
export function logOddsOf(model: FittedModel, leads: readonly Lead[]): Float64Array {
  const design = designOf(model.pipeline, leads);
  const out = new Float64Array(leads.length);
  for (let i = 0; i < leads.length; i++) out[i] = linearScore(model.model, design.indices, i * design.activePerRow, design.activePerRow);
  return out;
}

/** The training code's own scoring: transform, then the model's probabilities. */
export function scoreLeads(model: FittedModel, leads: readonly Lead[]): Float64Array {
  return predictProbabilities(model.model, designOf(model.pipeline, leads));
}

/** Leads before `from` and leads on or after it, by first-contact day. */
export function splitByDate<T extends Lead>(leads: readonly T[], from: string): { before: T[]; after: T[] } {
  const before: T[] = [];
  const after: T[] = [];
  for (const lead of leads) (isoDay(lead.first_contact_date) < from ? before : after).push(lead);
  return { before, after };
}

/** Leads first contacted on or after `from` and before `until`. */
export function leadsBetween<T extends Lead>(leads: readonly T[], from: string, until: string): T[] {
  return leads.filter((lead) => {
    const day = isoDay(lead.first_contact_date);
    return day >= from && day < until;
  });
}

/** `YYYY-MM-DD` shifted by whole months; a day past the new month's end is clamped to it (03-31 − 1 month = 02-28). */
export function addMonths(day: string, months: number): string {
  const [year, month, date] = day.split('-').map(Number) as [number, number, number];
  const first = new Date(Date.UTC(year, month - 1 + months, 1));
  const last = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
  first.setUTCDate(Math.min(date, last));
  return first.toISOString().slice(0, 10);
}

export function dayAfter(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

export interface Period {
  from: string;
  /** Exclusive. */
  until: string;
}

/** The `count` one-month windows that end at `cutoff`, oldest first. */
export function monthlyWindows(cutoff: string, count: number): Period[] {
  return Array.from({ length: count }, (_, i) => ({ from: addMonths(cutoff, i - count), until: addMonths(cutoff, i - count + 1) }));
}

/** The last calendar month that ends on or before `cutoff` (exclusive end of the training data). */
export function lastFullMonth(cutoff: string): Period {
  const until = `${cutoff.slice(0, 8)}01`;
  return { from: addMonths(until, -1), until };
}

/** The exclusive end of a lead list: the day after its last first contact. */
export function endOfData(leads: readonly Lead[]): string {
  let last = '';
  for (const lead of leads) {
    const day = isoDay(lead.first_contact_date);
    if (day > last) last = day;
  }
  if (!last) throw new RangeError('no leads');
  return dayAfter(last);
}

/** `one-standard-error`: the smallest C within one standard error of the best (the default); `best`: the best, however small its lead. */
export type SelectionRule = 'one-standard-error' | 'best';

export interface ProcedureSettings {
  grid: readonly number[];
  windows: number;
  recalibrate: Recalibration;
  rule?: SelectionRule;
}

export const DEFAULT_PROCEDURE: ProcedureSettings = { grid: C_GRID, windows: SELECTION_WINDOWS, recalibrate: 'last-month', rule: 'one-standard-error' };

export interface RecalibrationRecord {
  method: Recalibration;
  /** `YYYY-MM` of the month matched, null without recalibration. */
  month: string | null;
  leads: number;
  converted: number;
  observed_rate: number | null;
  mean_predicted_before: number | null;
  shift: number;
  /**
   * Conversions of that month whose deal was won on or after the cut-off: a retrain on the
   * cut-off day would not have known them (README, "Censoring").
   */
  converted_after_cutoff: number;
}

export interface WindowRecord extends Period {
  fit_leads: number;
  leads: number;
  converted: number;
  /** Positive × negative pairs: each window's weight in the AUC mean. */
  pairs: number;
  /** False when the window could not take part: no pairs in it, or one class only before it to fit on. */
  scored: boolean;
}

export interface CandidateRecord {
  C: number;
  roc_auc: number;
  /** Standard error of roc_auc (Hanley and McNeil per window, combined with the pair weights). */
  roc_auc_se: number;
  log_loss: number;
  windows: { roc_auc: number | null; log_loss: number | null }[];
}

export interface SelectionRecord {
  criterion: string;
  cutoff: string;
  grid: number[];
  windows: WindowRecord[];
  candidates: CandidateRecord[];
  /** The best candidate's C, and the AUC a candidate had to reach to be chosen over it. */
  best_C: number;
  threshold_auc: number;
  chosen: HyperParameters;
}

/** Hanley and McNeil's (1982) standard error of an AUC from its positives and negatives. */
export function aucStandardError(auc: number, positives: number, negatives: number): number {
  const q1 = auc / (2 - auc);
  const q2 = (2 * auc * auc) / (1 + auc);
  return Math.sqrt((auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) / (positives * negatives));
}

export interface ProcedureModel {
  cutoff: string;
  trainLeads: number;
  selection: SelectionRecord;
  fitted: FittedModel;
  recalibration: RecalibrationRecord;
}

/**
 * The whole procedure at one cut-off, over one list of leads: every model it fits is trained
 * on "all leads before some date", so window fits are shared between cut-offs (the rolling
 * origin's months validate on overlapping windows) through a cache keyed by that date.
 */
export class LeadTimeline {
  private readonly windowCache = new Map<string, { window: WindowRecord; scores: { roc_auc: number | null; log_loss: number | null }[] }>();

  constructor(
    readonly leads: readonly LabelledLead[],
    readonly settings: ProcedureSettings = DEFAULT_PROCEDURE,
  ) {
    if (settings.grid.length === 0) throw new RangeError('the C grid is empty');
  }

  before(date: string): LabelledLead[] {
    return splitByDate(this.leads, date).before;
  }

  /** Fits every C of the grid on the leads before `window.from` (shifted as the procedure shifts) and scores the window. */
  private scoreWindow(window: Period) {
    const key = `${window.from}/${window.until}`;
    const cached = this.windowCache.get(key);
    if (cached) return cached;
    const train = this.before(window.from);
    const test = leadsBetween(this.leads, window.from, window.until);
    const labels = labelsOf(test);
    const positives = countPositives(labels);
    const trainPositives = countPositives(labelsOf(train));
    // Early in the data a window may have nothing to fit on, or only one class before it: it
    // then takes no part in the choice (and says so) instead of stopping the whole procedure.
    const fittable = trainPositives > 0 && trainPositives < train.length;
    const pairs = positives * (test.length - positives);
    const record: WindowRecord = { ...window, fit_leads: train.length, leads: test.length, converted: positives, pairs, scored: fittable && pairs > 0 };
    const path = fittable ? fitPath(train, { features: [...FEATURES], minCategoryCount: MIN_CATEGORY_COUNT }, this.settings.grid) : [];
    const scores = this.settings.grid.map((_, c) => {
      const fitted = path[c];
      if (!fitted || test.length === 0) return { roc_auc: null, log_loss: null };
      // The shift only serves the log-loss tie-break (AUC ignores it): a window whose preceding
      // month cannot be matched (no conversion in it) is scored unshifted rather than failing.
      const shifted = this.canRecalibrate(train, window.from) ? this.recalibrate(fitted, train, window.from).fitted : fitted;
      const probabilities = scoreLeads(shifted, test);
      return { roc_auc: record.scored ? rocAuc(labels, probabilities) : null, log_loss: logLoss(labels, probabilities) };
    });
    const entry = { window: record, scores };
    this.windowCache.set(key, entry);
    return entry;
  }

  /**
   * C by ROC AUC averaged over the monthly windows before `cutoff`, each window weighted by its
   * positive × negative pairs (a month counts as much as the comparisons it holds); log loss
   * over all window leads breaks ties. With about 150 conversions a month the windows' AUC
   * carries a standard error (≈ 0.014 over three months) larger than the differences between
   * the grid's C (≤ 0.011 on the real data), so the one-standard-error rule applies: the most
   * regularised C whose AUC is within one standard error of the best is chosen, and a weaker
   * penalty has to earn its place by more than the noise.
   */
  select(cutoff: string): SelectionRecord {
    const periods = monthlyWindows(cutoff, this.settings.windows);
    const windows = periods.map((period) => this.scoreWindow(period));
    const totalPairs = windows.reduce((sum, w) => sum + (w.window.scored ? w.window.pairs : 0), 0);
    const totalLeads = windows.reduce((sum, w) => sum + (w.scores[0]!.log_loss !== null ? w.window.leads : 0), 0);
    if (totalPairs === 0) {
      throw new RangeError(
        `cannot choose C before ${cutoff}: none of the windows ${periods.map((p) => p.from.slice(0, 7)).join(', ')} has converted and unconverted leads, and both before it to fit on`,
      );
    }
    const candidates: CandidateRecord[] = this.settings.grid.map((C, c) => {
      let auc = 0;
      let variance = 0;
      let loss = 0;
      for (const w of windows) {
        const score = w.scores[c]!;
        if (score.roc_auc !== null) {
          const weight = w.window.pairs / totalPairs;
          auc += score.roc_auc * weight;
          variance += (weight * aucStandardError(score.roc_auc, w.window.converted, w.window.leads - w.window.converted)) ** 2;
        }
        if (score.log_loss !== null) loss += score.log_loss * w.window.leads;
      }
      return { C, roc_auc: auc, roc_auc_se: Math.sqrt(variance), log_loss: loss / totalLeads, windows: windows.map((w) => ({ roc_auc: w.scores[c]!.roc_auc, log_loss: w.scores[c]!.log_loss })) };
    });
    const best = candidates.reduce((a, b) => (b.roc_auc > a.roc_auc || (b.roc_auc === a.roc_auc && b.log_loss < a.log_loss) ? b : a));
    const oneStandardError = (this.settings.rule ?? 'one-standard-error') === 'one-standard-error';
    const threshold = oneStandardError ? best.roc_auc - best.roc_auc_se : best.roc_auc;
    const chosen = oneStandardError ? candidates.filter((c) => c.roc_auc >= threshold).reduce((a, b) => (b.C < a.C ? b : a)) : best;
    return {
      criterion: `roc_auc averaged over monthly windows, weighted by positive × negative pairs (log loss breaks ties)${oneStandardError ? '; the smallest C within one standard error of the best' : ''}`,
      cutoff,
      grid: [...this.settings.grid],
      windows: windows.map((w) => w.window),
      candidates,
      best_C: best.C,
      threshold_auc: threshold,
      chosen: { features: [...FEATURES], minCategoryCount: MIN_CATEGORY_COUNT, C: chosen.C },
    };
  }

  private canRecalibrate(train: readonly LabelledLead[], cutoff: string): boolean {
    if (this.settings.recalibrate === 'none') return true;
    const month = lastFullMonth(cutoff);
    const leads = leadsBetween(train, month.from, month.until);
    const converted = leads.filter((lead) => lead.converted).length;
    return converted > 0 && converted < leads.length;
  }

  /** Shifts the intercept so the mean prediction on the last full month before `cutoff` is that month's conversion rate. */
  recalibrate(fitted: FittedModel, train: readonly LabelledLead[], cutoff: string): { fitted: FittedModel; record: RecalibrationRecord } {
    if (this.settings.recalibrate === 'none') {
      return { fitted, record: { method: 'none', month: null, leads: 0, converted: 0, observed_rate: null, mean_predicted_before: null, shift: 0, converted_after_cutoff: 0 } };
    }
    const month = lastFullMonth(cutoff);
    const leads = leadsBetween(train, month.from, month.until);
    const converted = leads.filter((lead) => lead.converted).length;
    if (converted === 0 || converted === leads.length) {
      throw new RangeError(
        `cannot recalibrate to ${month.from.slice(0, 7)}, the last full month before ${cutoff}: ${leads.length} leads, ${converted} converted; train with --recalibrate none`,
      );
    }
    const solved = interceptShift(logOddsOf(fitted, leads), converted);
    const model = { intercept: fitted.fit.intercept + solved.shift, weights: fitted.fit.weights };
    return {
      fitted: { ...fitted, model },
      record: {
        method: 'last-month',
        month: month.from.slice(0, 7),
        leads: leads.length,
        converted,
        observed_rate: converted / leads.length,
        mean_predicted_before: solved.meanBefore,
        shift: solved.shift,
        converted_after_cutoff: leads.filter((lead) => lead.converted && lead.won_date !== undefined && isoDay(lead.won_date) >= cutoff).length,
      },
    };
  }

  /** The full procedure on the leads before `cutoff`: choose C, fit, shift the intercept. */
  train(cutoff: string): ProcedureModel {
    const selection = this.select(cutoff);
    const train = this.before(cutoff);
    const fitted = fitLeads(train, selection.chosen);
    const { fitted: shifted, record } = this.recalibrate(fitted, train, cutoff);
    return { cutoff, trainLeads: train.length, selection, fitted: shifted, recalibration: record };
  }
}

export interface MonthScore {
  roc_auc: number;
  brier: number;
  log_loss: number;
}

export interface RollingOriginMonth extends MonthScore {
  month: string;
  train_leads: number;
  leads: number;
  converted: number;
  C: number;
  intercept_shift: number;
  base_rate: MonthScore;
  reference_pipeline: MonthScore;
}

export interface RollingOrigin {
  months: RollingOriginMonth[];
  mean: MonthScore;
  base_rate_mean: MonthScore;
  reference_pipeline_mean: MonthScore;
}

function monthScore(labels: Uint8Array, scores: ArrayLike<number>): MonthScore {
  return { roc_auc: rocAuc(labels, scores), brier: brierScore(labels, scores), log_loss: logLoss(labels, scores) };
}

function meanScore(rows: MonthScore[]): MonthScore {
  const mean = (pick: (row: MonthScore) => number) => rows.reduce((sum, row) => sum + pick(row), 0) / rows.length;
  return { roc_auc: mean((r) => r.roc_auc), brier: mean((r) => r.brier), log_loss: mean((r) => r.log_loss) };
}

/** The calendar months (`YYYY-MM-01`) the leads fall in, in order. */
export function monthsOf(leads: readonly Lead[]): string[] {
  return [...new Set(leads.map((lead) => `${isoDay(lead.first_contact_date).slice(0, 7)}-01`))].sort();
}

/**
 * How a monthly retrain does: for each of the last `count` months of the data, the whole
 * procedure (selection included) on every lead before it, scored on that month.
 */
export function rollingOrigin(timeline: LeadTimeline, count = ROLLING_ORIGIN_MONTHS, onMonth?: (month: string) => void): RollingOrigin {
  const months = monthsOf(timeline.leads).slice(-count);
  if (months.length < count) throw new RangeError(`the rolling-origin evaluation needs ${count} months of data; the leads span ${months.length}`);
  const rows = months.map((from): RollingOriginMonth => {
    onMonth?.(from.slice(0, 7));
    const until = addMonths(from, 1);
    const procedure = timeline.train(from);
    const train = timeline.before(from);
    const test = leadsBetween(timeline.leads, from, until);
    const labels = labelsOf(test);
    const rate = countPositives(labelsOf(train)) / train.length;
    const reference = fitReferencePipeline(train);
    return {
      month: from.slice(0, 7),
      train_leads: train.length,
      leads: test.length,
      converted: countPositives(labels),
      C: procedure.selection.chosen.C,
      intercept_shift: procedure.recalibration.shift,
      ...monthScore(labels, scoreLeads(procedure.fitted, test)),
      base_rate: monthScore(labels, new Float64Array(test.length).fill(rate)),
      reference_pipeline: monthScore(labels, reference.scoreAll(test)),
    };
  });
  return {
    months: rows,
    mean: meanScore(rows),
    base_rate_mean: meanScore(rows.map((row) => row.base_rate)),
    reference_pipeline_mean: meanScore(rows.map((row) => row.reference_pipeline)),
  };
}

export interface CrossValidation {
  folds: number;
  aucs: number[];
  meanAuc: number;
  stdAuc: number;
}

export function crossValidatedAuc(leads: readonly LabelledLead[], params: HyperParameters, folds = 5, seed = 42): CrossValidation {
  const labels = labelsOf(leads);
  const foldOf = stratifiedFolds(labels, folds, seed);
  const aucs: number[] = [];
  for (let fold = 0; fold < folds; fold++) {
    const train = leads.filter((_, i) => foldOf[i] !== fold);
    const test = leads.filter((_, i) => foldOf[i] === fold);
    aucs.push(rocAuc(labelsOf(test), scoreLeads(fitLeads(train, params), test)));
  }
  const meanAuc = aucs.reduce((a, b) => a + b, 0) / folds;
  const stdAuc = Math.sqrt(aucs.reduce((a, b) => a + (b - meanAuc) ** 2, 0) / folds);
  return { folds, aucs, meanAuc, stdAuc };
}

/** The floor every model must beat: the training window's conversion rate as a constant score. */
export function baseRateEvaluation(trainLeads: readonly LabelledLead[], holdout: readonly LabelledLead[]): Evaluation {
  const rate = trainLeads.filter((lead) => lead.converted).length / trainLeads.length;
  return evaluate(labelsOf(holdout), new Float64Array(holdout.length).fill(rate));
}

export interface TrainingInput {
  leads: readonly LabelledLead[];
  files: { file: string; sha256: string; rows: number }[];
  rejectedRows: number;
  /** Where the leads came from, when the lead-score store is one of the sources (recorded in training_data). */
  sources?: TrainingSource[];
}

export interface TrainingOptions {
  holdoutFrom: string;
  recalibrate?: Recalibration;
  rule?: SelectionRule;
  grid?: readonly number[];
  windows?: number;
  rollingOriginMonths?: number;
  cvFolds?: number;
  now?: Date;
  onProgress?: (message: string) => void;
}

export interface TrainingOutcome {
  artifact: Artifact;
  /** The model evaluated on the holdout: the procedure on the leads before the holdout date. */
  holdoutModel: ProcedureModel;
  holdoutScores: Float64Array;
  holdoutLabels: Uint8Array;
  /** The shipped model: the procedure on every lead. */
  final: FittedModel;
  finalProcedure: ProcedureModel;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * The whole run: the procedure before the holdout date, evaluated on the holdout; the monthly
 * rolling-origin evaluation; a cross-validation; then the procedure on every lead for the
 * model that ships (its C chosen on the three months before the end of the data).
 */
export function trainLeadModel(input: TrainingInput, options: TrainingOptions): TrainingOutcome {
  const progress = options.onProgress ?? (() => {});
  const { holdoutFrom } = options;
  const { before: train, after: holdout } = splitByDate(input.leads, holdoutFrom);
  if (train.length === 0 || holdout.length === 0) {
    throw new Error(`the holdout date ${holdoutFrom} leaves ${train.length} training and ${holdout.length} holdout leads; pick a date inside the data`);
  }
  const settings: ProcedureSettings = {
    grid: options.grid ?? C_GRID,
    windows: options.windows ?? SELECTION_WINDOWS,
    recalibrate: options.recalibrate ?? 'last-month',
    rule: options.rule ?? 'one-standard-error',
  };
  const timeline = new LeadTimeline(input.leads, settings);

  progress(`choosing C ∈ {${settings.grid.join(', ')}} on the ${settings.windows} months before ${holdoutFrom}, then evaluating on the holdout (${holdout.length} leads)`);
  const holdoutModel = timeline.train(holdoutFrom);
  const holdoutScores = scoreLeads(holdoutModel.fitted, holdout);
  const holdoutLabels = labelsOf(holdout);

  const months = options.rollingOriginMonths ?? ROLLING_ORIGIN_MONTHS;
  progress(`rolling-origin evaluation: ${months} monthly retrains, each scored on its month`);
  const rolling = rollingOrigin(timeline, months);

  const folds = options.cvFolds ?? 5;
  const end = endOfData(input.leads);
  progress(`choosing C for the shipped model on the ${settings.windows} months before ${end}, refitting on all ${input.leads.length} leads`);
  const finalProcedure = timeline.train(end);
  const final = finalProcedure.fitted;
  progress(`${folds}-fold stratified cross-validation on all ${input.leads.length} leads`);
  const crossValidation = crossValidatedAuc(input.leads, finalProcedure.selection.chosen, folds);

  const featureNames = final.pipeline.featureNames;
  const weights = Object.fromEntries(featureNames.map((name, j) => [name, final.model.weights[j]!]));
  const pipelineState = final.pipeline.toJSON();
  const days = input.leads.map((lead) => isoDay(lead.first_contact_date)).sort();
  const createdAt = (options.now ?? new Date()).toISOString();
  // The sources' fingerprints take part only when there are any, so a model trained from files keeps its version.
  const identity = createHash('sha256')
    .update(canonicalJson({ pipelineState, weights, intercept: final.model.intercept, files: input.files, ...(input.sources ? { sources: input.sources } : {}) }))
    .digest('hex');
  // Tiers and the drift reference come from the shipped model's own scores, after the shift.
  const trainingScores = scoreLeads(final, input.leads);
  const tiers = tierCutPoints(trainingScores);

  const body: ArtifactBody = {
    format: ARTIFACT_FORMAT,
    format_version: ARTIFACT_FORMAT_VERSION,
    model_version: `${createdAt.slice(0, 10).replaceAll('-', '')}.${identity.slice(0, 8)}`,
    created_at: createdAt,
    training_data: {
      files: input.files,
      leads: input.leads.length,
      converted: input.leads.filter((lead) => lead.converted).length,
      rejected_rows: input.rejectedRows,
      first_contact_from: days[0]!,
      first_contact_to: days.at(-1)!,
      ...(input.sources ? { sources: input.sources } : {}),
    },
    pipeline: pipelineState,
    model: {
      kind: 'logistic_regression',
      intercept: final.model.intercept,
      weights,
      solver: {
        name: 'newton-cholesky',
        C: finalProcedure.selection.chosen.C,
        tolerance: final.fit.tolerance,
        max_iterations: final.fit.maxIterations,
        iterations: final.fit.iterations,
        converged: final.fit.converged,
        gradient_max_norm: final.fit.gradientMaxNorm,
        line_search_halvings: final.fit.halvings,
        fit_ms: round(final.fitMs, 1),
      },
      recalibration: finalProcedure.recalibration,
    },
    selection: finalProcedure.selection,
    metrics: {
      holdout_from: holdoutFrom,
      train_leads: train.length,
      holdout: evaluate(holdoutLabels, holdoutScores),
      holdout_base_rate: baseRateEvaluation(train, holdout),
      holdout_model: { C: holdoutModel.selection.chosen.C, recalibration: holdoutModel.recalibration, selection: holdoutModel.selection },
      rolling_origin: rolling,
      cross_validation: crossValidation,
    },
    tiers,
    reference: buildDriftReference(final.pipeline, input.leads, trainingScores, tiers),
  };
  return { artifact: sealArtifact(body), holdoutModel, holdoutScores, holdoutLabels, final, finalProcedure };
}

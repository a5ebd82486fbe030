// Training procedure: time split, hyper-parameter choice inside the training window, evaluation, refit.
import { createHash } from 'node:crypto';
import type { LabelledLead, Lead } from '../features/lead.js';
import { isoDay } from '../features/lead.js';
import { Pipeline, type FeatureName, type PipelineSettings } from '../features/pipeline.js';
import { fitLogistic, predictProbabilities, type FitResult } from './logistic.js';
import { ARTIFACT_FORMAT, ARTIFACT_FORMAT_VERSION, canonicalJson, sealArtifact, type Artifact, type ArtifactBody } from './artifact.js';
import { tierCutPoints } from './tiers.js';
import { evaluate, logLoss, rocAuc, stratifiedFolds, type Evaluation } from './metrics.js';

export interface HyperParameters extends PipelineSettings {
  C: number;
}

export interface FittedModel {
  pipeline: Pipeline;
  fit: FitResult;
  fitMs: number;
}

export function labelsOf(leads: readonly LabelledLead[]): Uint8Array {
  return Uint8Array.from(leads, (lead) => (lead.converted ? 1 : 0));
}

export function fitLeads(leads: readonly LabelledLead[], params: HyperParameters): FittedModel {
  const started = performance.now();
  const pipeline = new Pipeline({ features: params.features, minCategoryCount: params.minCategoryCount }).fit(leads);
  const design = {
    rows: leads.length,
    activePerRow: pipeline.stepCount,
    featureCount: pipeline.featureCount,
    indices: pipeline.transformAll(leads),
  };
  const fit = fitLogistic(design, labelsOf(leads), { C: params.C });
  return { pipeline, fit, fitMs: performance.now() - started };
}

/** The training code's own scoring: transform, then the model's probabilities. */
export function scoreLeads(model: FittedModel, leads: readonly Lead[]): Float64Array {
  const { pipeline, fit } = model;
  const design = { rows: leads.length, activePerRow: pipeline.stepCount, featureCount: pipeline.featureCount, indices: pipeline.transformAll(leads) };
  return predictProbabilities(fit, design);
}

/** Leads before `from` and leads on or after it, by first-contact day. */
export function splitByDate<T extends Lead>(leads: readonly T[], from: string): { before: T[]; after: T[] } {
  const before: T[] = [];
  const after: T[] = [];
  for (const lead of leads) (isoDay(lead.first_contact_date) < from ? before : after).push(lead);
  return { before, after };
}

/** `YYYY-MM-DD` shifted by whole months (day kept, so use the first of a month). */
export function addMonths(day: string, months: number): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCMonth(date.getUTCMonth() + months);
  return date.toISOString().slice(0, 10);
}

export interface SearchGrid {
  C: number[];
  minCategoryCount: number[];
  features: FeatureName[][];
}

export const DEFAULT_GRID: SearchGrid = {
  C: [0.01, 0.03, 0.1, 0.3, 1, 3],
  minCategoryCount: [1, 2, 3, 5, 10],
  features: [
    ['origin'],
    ['landing_page_id'],
    ['origin', 'landing_page_id'],
    ['origin', 'landing_page_id', 'weekday'],
    ['origin', 'landing_page_id', 'month_of_year'],
  ],
};

export interface CandidateResult {
  params: HyperParameters;
  validationLogLoss: number;
  validationAuc: number;
}

export interface Selection {
  validateFrom: string;
  fitLeads: number;
  validationLeads: number;
  criterion: 'roc_auc';
  baselineLogLoss: number;
  best: CandidateResult;
  candidates: CandidateResult[];
}

/**
 * Chooses hyper-parameters by a time-ordered validation inside the training window: fit on
 * the leads before the last `validationMonths` months, score those months. A random
 * cross-validation would reward features that memorise old months, which the drift punishes.
 * ROC AUC is the criterion, log loss breaks ties: the drift moves every month's base rate, which
 * no hyper-parameter can foresee and which dominates the validation log loss, whereas the
 * ranking the features give is what tiers and top-k lists are made of (README, "Model choice").
 */
export function selectHyperParameters(trainLeads: readonly LabelledLead[], trainUntil: string, grid: SearchGrid, validationMonths = 2): Selection {
  const validateFrom = addMonths(trainUntil, -validationMonths);
  const { before, after } = splitByDate(trainLeads, validateFrom);
  if (before.length === 0 || after.length === 0) {
    throw new Error(`cannot validate: ${before.length} leads before ${validateFrom} and ${after.length} from it to ${trainUntil}`);
  }
  const labels = labelsOf(after);
  const candidates: CandidateResult[] = [];
  for (const features of grid.features) {
    for (const minCategoryCount of grid.minCategoryCount) {
      for (const C of grid.C) {
        const params = { features, minCategoryCount, C };
        const scores = scoreLeads(fitLeads(before, params), after);
        candidates.push({ params, validationLogLoss: logLoss(labels, scores), validationAuc: rocAuc(labels, scores) });
      }
    }
  }
  const baseRate = labelsOf(before).reduce((a, b) => a + b, 0) / before.length;
  const baselineLogLoss = logLoss(labels, new Float64Array(after.length).fill(baseRate));
  // A model whose probabilities are worse than a constant is not a candidate, however it ranks.
  const eligible = candidates.filter((candidate) => candidate.validationLogLoss < baselineLogLoss);
  if (eligible.length === 0) throw new Error(`no candidate beats the base rate's validation log loss (${baselineLogLoss.toFixed(4)})`);
  const best = eligible.reduce((a, b) =>
    b.validationAuc > a.validationAuc || (b.validationAuc === a.validationAuc && b.validationLogLoss < a.validationLogLoss) ? b : a,
  );
  return { validateFrom, fitLeads: before.length, validationLeads: after.length, criterion: 'roc_auc', baselineLogLoss, best, candidates };
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
}

export interface TrainingOptions {
  holdoutFrom: string;
  grid?: SearchGrid;
  validationMonths?: number;
  cvFolds?: number;
  now?: Date;
  onProgress?: (message: string) => void;
}

export interface TrainingOutcome {
  artifact: Artifact;
  selection: Selection;
  holdoutScores: Float64Array;
  holdoutLabels: Uint8Array;
  /** The final model, refitted on every lead. */
  final: FittedModel;
}

/**
 * The whole procedure: choose hyper-parameters inside the training window, evaluate on the
 * holdout, cross-validate, then refit on all leads for the model that ships.
 */
export function trainLeadModel(input: TrainingInput, options: TrainingOptions): TrainingOutcome {
  const progress = options.onProgress ?? (() => {});
  const { holdoutFrom } = options;
  const { before: train, after: holdout } = splitByDate(input.leads, holdoutFrom);
  if (train.length === 0 || holdout.length === 0) {
    throw new Error(`the holdout date ${holdoutFrom} leaves ${train.length} training and ${holdout.length} holdout leads; pick a date inside the data`);
  }
  const grid = options.grid ?? DEFAULT_GRID;
  progress(`choosing hyper-parameters: ${grid.C.length * grid.minCategoryCount.length * grid.features.length} candidates, time-ordered validation`);
  const selection = selectHyperParameters(train, holdoutFrom, grid, options.validationMonths);
  const params = selection.best.params;

  progress(`evaluating on the holdout (${holdout.length} leads from ${holdoutFrom})`);
  const evaluated = fitLeads(train, params);
  const holdoutScores = scoreLeads(evaluated, holdout);
  const holdoutLabels = labelsOf(holdout);
  const folds = options.cvFolds ?? 5;
  progress(`${folds}-fold stratified cross-validation on all ${input.leads.length} leads`);
  const crossValidation = crossValidatedAuc(input.leads, params, folds);

  progress('refitting on all leads');
  const final = fitLeads(input.leads, params);
  const featureNames = final.pipeline.featureNames;
  const weights = Object.fromEntries(featureNames.map((name, j) => [name, final.fit.weights[j]!]));
  const pipelineState = final.pipeline.toJSON();
  const days = input.leads.map((lead) => isoDay(lead.first_contact_date)).sort();
  const createdAt = (options.now ?? new Date()).toISOString();
  const identity = createHash('sha256').update(canonicalJson({ pipelineState, weights, intercept: final.fit.intercept, files: input.files })).digest('hex');

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
    },
    pipeline: pipelineState,
    model: {
      kind: 'logistic_regression',
      intercept: final.fit.intercept,
      weights,
      solver: {
        name: 'newton-cholesky',
        C: params.C,
        tolerance: 1e-8,
        iterations: final.fit.iterations,
        gradient_max_norm: final.fit.gradientMaxNorm,
        fit_ms: Math.round(final.fitMs * 10) / 10,
      },
    },
    selection: {
      criterion: selection.criterion,
      validate_from: selection.validateFrom,
      validate_until: holdoutFrom,
      chosen: params,
      validation_auc: selection.best.validationAuc,
      validation_log_loss: selection.best.validationLogLoss,
      candidates: selection.candidates.length,
    },
    metrics: {
      holdout_from: holdoutFrom,
      train_leads: train.length,
      holdout: evaluate(holdoutLabels, holdoutScores),
      holdout_base_rate: baseRateEvaluation(train, holdout),
      cross_validation: crossValidation,
    },
    tiers: tierCutPoints(scoreLeads(final, input.leads)),
  };
  return { artifact: sealArtifact(body), selection, holdoutScores, holdoutLabels, final };
}

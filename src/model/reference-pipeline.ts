// The original Python project's fixed pipeline, rebuilt as a reference row for the evaluations:
// rare labels grouped, each category coded by the rank of its training conversion rate,
// min-max scaled, then a logistic regression on the two resulting numbers.
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import type { LabelledLead, Lead } from '../features/lead.js';
import { extractCategory, type FeatureName } from '../features/pipeline.js';
import { sigmoid } from './logistic.js';

export interface ReferencePipelineSettings {
  /** A category with a smaller share of the training leads is grouped as "Rare". */
  rareShare: number;
  /** scikit-learn's C; its default of 1 is what that project used. */
  C: number;
}

export const REFERENCE_PIPELINE: ReferencePipelineSettings = { rareShare: 0.01, C: 1 };
const FEATURES: FeatureName[] = ['origin', 'landing_page_id'];
const RARE = 'Rare';

export interface ReferenceModel {
  score(lead: Lead): number;
  scoreAll(leads: readonly Lead[]): Float64Array;
}

/** Category → scaled code in [0, 1], by ascending training conversion rate; unseen and rare values share the "Rare" code. */
function fitEncoder(feature: FeatureName, leads: readonly LabelledLead[], rareShare: number): (lead: Lead) => number {
  const counts = new Map<string, { leads: number; converted: number }>();
  for (const lead of leads) {
    const value = extractCategory(feature, lead);
    const entry = counts.get(value) ?? { leads: 0, converted: 0 };
    entry.leads++;
    if (lead.converted) entry.converted++;
    counts.set(value, entry);
  }
  const grouped = new Map<string, { leads: number; converted: number }>();
  for (const [value, entry] of counts) {
    const key = entry.leads / leads.length < rareShare ? RARE : value;
    const into = grouped.get(key) ?? { leads: 0, converted: 0 };
    into.leads += entry.leads;
    into.converted += entry.converted;
    grouped.set(key, into);
  }
  const ranked = [...grouped].sort(([a, x], [b, y]) => x.converted / x.leads - y.converted / y.leads || (a < b ? -1 : 1)).map(([value]) => value);
  const top = Math.max(1, ranked.length - 1);
  const code = new Map(ranked.map((value, rank) => [value, rank / top]));
  const rareCode = code.get(RARE) ?? 0;
  return (lead) => code.get(extractCategory(feature, lead)) ?? rareCode;
}

/** L2 logistic regression on a few dense columns by plain Newton steps (unpenalised intercept). */
function fitDense(rows: number[][], labels: Uint8Array, C: number): number[] {
  const p = rows[0]!.length;
  const dim = p + 1;
  let beta = new Array<number>(dim).fill(0);
  const x = new Float64Array(dim);
  for (let iteration = 0; iteration < 100; iteration++) {
    const gradient = new Array<number>(dim).fill(0);
    // Accumulated in a flat array: Matrix.get/set per lead cost more than the rest of the fit.
    const hessian = new Float64Array(dim * dim);
    rows.forEach((row, i) => {
      x[0] = 1;
      for (let j = 0; j < p; j++) x[j + 1] = row[j]!;
      let z = 0;
      for (let j = 0; j < dim; j++) z += x[j]! * beta[j]!;
      const mu = sigmoid(z);
      const curvature = mu * (1 - mu);
      for (let a = 0; a < dim; a++) {
        gradient[a]! += (mu - labels[i]!) * x[a]!;
        for (let b = 0; b <= a; b++) hessian[a * dim + b]! += curvature * x[a]! * x[b]!;
      }
    });
    for (let a = 1; a < dim; a++) {
      gradient[a]! += beta[a]! / C;
      hessian[a * dim + a]! += 1 / C;
    }
    const matrix = new Matrix(dim, dim);
    for (let a = 0; a < dim; a++) for (let b = 0; b <= a; b++) matrix.set(a, b, hessian[a * dim + b]!).set(b, a, hessian[a * dim + b]!);
    const step = new CholeskyDecomposition(matrix).solve(Matrix.columnVector(gradient)).to1DArray();
    beta = beta.map((b, j) => b - step[j]!);
    if (Math.max(...gradient.map(Math.abs)) < 1e-9) break;
  }
  return beta;
}

export function fitReferencePipeline(leads: readonly LabelledLead[], settings: ReferencePipelineSettings = REFERENCE_PIPELINE): ReferenceModel {
  const encoders = FEATURES.map((feature) => fitEncoder(feature, leads, settings.rareShare));
  const encode = (lead: Lead) => encoders.map((encoder) => encoder(lead));
  const beta = fitDense(leads.map(encode), Uint8Array.from(leads, (lead) => (lead.converted ? 1 : 0)), settings.C);
  const score = (lead: Lead) => sigmoid(encode(lead).reduce((z, x, j) => z + x * beta[j + 1]!, beta[0]!));
  return { score, scoreAll: (list) => Float64Array.from(list, score) };
}

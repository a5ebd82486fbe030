// Drift of the leads a model scores against the distribution it was trained on: the reference
// training records in the artifact, the binning, and the statistics (PSI, Jensen–Shannon).
// Everything works from counts per bin, so a server can keep them in memory buckets or sum
// them in a database and ask for a report at any time.
import { z } from 'zod';
import type { Lead } from '../features/lead.js';
import { extractCategory, FEATURE_NAMES, OTHER, type FeatureName, type Pipeline } from '../features/pipeline.js';
import { quantile, tierOf, TIERS, type TierCutPoints } from './tiers.js';

/** Kept categories outside the top K of a feature, as one bin. */
export const REST = '(rest)';
/** The drift "feature" of the model's own output. */
export const SCORE = 'score';

export const DRIFT_DEFAULTS = {
  /** Below this many leads a feature reports `insufficient_data`, never an alarm. */
  minCount: 500,
  /** Categories of a feature kept as their own bin, by training share; the rest share one bin. */
  topK: 20,
  /** Added to every bin's share before PSI's logarithm, so an empty bin costs a finite amount. */
  epsilon: 1e-4,
  /** PSI thresholds: below `moderate` stable, above `significant` significant. */
  moderate: 0.1,
  significant: 0.25,
  /** How many bins the report lists as having moved most. */
  movers: 5,
} as const;

export type DriftStatus = 'stable' | 'moderate' | 'significant' | 'insufficient_data';

const share = z.number().min(0).max(1);

export const DriftReferenceSchema = z.object({
  /** Training leads the shares were counted over. */
  leads: z.number().int().positive(),
  /** Per categorical feature, the share of each category the model keeps; "(other)" holds what the model will see for the first time (0 when every category was kept). */
  features: z
    .array(z.object({ feature: z.enum(FEATURE_NAMES as [FeatureName, ...FeatureName[]]), shares: z.record(z.string(), share) }))
    .min(1),
  score: z.object({
    /** Inner decile edges of the training scores, ties removed; a score equal to an edge falls in the bin above it. */
    edges: z.array(z.number()),
    /** Share of training leads in each of the edges.length + 1 bins. */
    shares: z.array(share),
  }),
  /** Share of training leads in each tier. */
  tiers: z.object({ A: share, B: share, C: share, D: share }),
});
export type DriftReference = z.infer<typeof DriftReferenceSchema>;

/** The training distribution a drift report compares against, recorded at training time. */
export function buildDriftReference(pipeline: Pipeline, leads: readonly Lead[], scores: ArrayLike<number>, tiers: TierCutPoints): DriftReference {
  if (leads.length === 0 || leads.length !== scores.length) throw new RangeError(`need one score per lead, got ${scores.length} scores for ${leads.length} leads`);
  const n = leads.length;
  const state = pipeline.toJSON();
  const features = state.steps.map(({ feature, categories }) => {
    const kept = new Set(categories);
    const counts = new Map(categories.map((category) => [category, 0]));
    for (const lead of leads) {
      const value = extractCategory(feature, lead);
      const bin = kept.has(value) ? value : OTHER;
      counts.set(bin, counts.get(bin)! + 1);
    }
    return { feature, shares: Object.fromEntries([...counts].map(([category, count]) => [category, count / n])) };
  });
  const sorted = Float64Array.from(scores).sort();
  const edges = [...new Set(Array.from({ length: 9 }, (_, i) => quantile(sorted, (i + 1) / 10)))];
  const binCounts = new Array<number>(edges.length + 1).fill(0);
  const tierCounts = { A: 0, B: 0, C: 0, D: 0 };
  for (let i = 0; i < n; i++) {
    binCounts[scoreBinIndex(edges, scores[i]!)]!++;
    tierCounts[tierOf(scores[i]!, tiers)]++;
  }
  return {
    leads: n,
    features,
    score: { edges, shares: binCounts.map((count) => count / n) },
    tiers: Object.fromEntries(TIERS.map((tier) => [tier, tierCounts[tier] / n])) as DriftReference['tiers'],
  };
}

function scoreBinIndex(edges: readonly number[], probability: number): number {
  let low = 0;
  let high = edges.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (edges[mid]! <= probability) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** The bins of one drift feature and the training share of each. */
export interface FeatureBins {
  feature: string;
  bins: string[];
  expected: number[];
  /** For the score: each bin's probability range [lower, upper). */
  ranges?: { lower: number; upper: number }[];
}

interface CompiledReference {
  bins: Map<string, FeatureBins>;
  /** Categorical feature → category → its bin. */
  binOf: Map<string, Map<string, string>>;
  edges: readonly number[];
}

const compiled = new WeakMap<DriftReference, Map<number, CompiledReference>>();

/** Bins are derived from the reference once per (reference, topK) and kept: binning a lead is then a map lookup. */
function compile(reference: DriftReference, topK: number): CompiledReference {
  if (!(Number.isInteger(topK) && topK >= 1)) throw new RangeError(`topK must be a positive integer, got ${topK}`);
  let byK = compiled.get(reference);
  if (!byK) compiled.set(reference, (byK = new Map()));
  const cached = byK.get(topK);
  if (cached) return cached;
  const bins = new Map<string, FeatureBins>();
  const binOf = new Map<string, Map<string, string>>();
  for (const { feature, shares } of reference.features) {
    const kept = Object.entries(shares).filter(([category]) => category !== OTHER);
    // Busiest first, names breaking ties, so the same reference always gives the same bins.
    kept.sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0));
    const top = kept.slice(0, topK);
    const rest = kept.slice(topK);
    const map = new Map<string, string>(top.map(([category]) => [category, category]));
    for (const [category] of rest) map.set(category, REST);
    const names = [...top.map(([category]) => category), ...(rest.length ? [REST] : []), OTHER];
    const expected = [...top.map(([, s]) => s), ...(rest.length ? [rest.reduce((sum, [, s]) => sum + s, 0)] : []), shares[OTHER] ?? 0];
    bins.set(feature, { feature, bins: names, expected });
    binOf.set(feature, map);
  }
  const { edges, shares } = reference.score;
  const bounds = [0, ...edges, 1];
  bins.set(SCORE, {
    feature: SCORE,
    bins: shares.map((_, i) => `d${i + 1}`),
    expected: [...shares],
    ranges: shares.map((_, i) => ({ lower: bounds[i]!, upper: bounds[i + 1]! })),
  });
  const result = { bins, binOf, edges };
  byK.set(topK, result);
  return result;
}

/** The features a report covers: the model's categorical inputs, then its score. */
export function driftFeatures(reference: DriftReference): string[] {
  return [...reference.features.map((f) => f.feature), SCORE];
}

export function featureBins(reference: DriftReference, feature: string, topK: number = DRIFT_DEFAULTS.topK): FeatureBins {
  const bins = compile(reference, topK).bins.get(feature);
  if (!bins) throw new RangeError(`unknown drift feature "${feature}"; the reference has ${driftFeatures(reference).join(', ')}`);
  return bins;
}

/**
 * The bin of a category as the model sees it (`extractCategory`: "(missing)" for an empty
 * origin): itself among the top K, "(rest)" for another kept category, "(other)" for a value
 * the model never learned. Bin names map to themselves, so counts already binned can be passed again.
 */
export function categoryBin(reference: DriftReference, feature: FeatureName, category: string, topK: number = DRIFT_DEFAULTS.topK): string {
  const map = compile(reference, topK).binOf.get(feature);
  if (!map) throw new RangeError(`the reference has no categorical feature "${feature}"`);
  return map.get(category) ?? (category === REST ? REST : OTHER);
}

/** The score bin (`d1` … `dN`) of a probability, on the training scores' decile edges. */
export function scoreBin(reference: DriftReference, probability: number): string {
  if (!(probability >= 0 && probability <= 1)) throw new RangeError(`a probability must be in [0, 1], got ${probability}`);
  return `d${scoreBinIndex(compile(reference, DRIFT_DEFAULTS.topK).edges, probability) + 1}`;
}

/**
 * The drift bins of scored leads, the way categoryBin and scoreBin give them: the bins are looked
 * up once per reference, and `visit` is called with each lead's bin per feature instead of a
 * record being built per lead (the per-request counting path of a service without a store).
 */
export function leadBinner(reference: DriftReference, topK: number = DRIFT_DEFAULTS.topK): (lead: Lead, probability: number, visit: (feature: string, bin: string) => void) => void {
  const { binOf, edges } = compile(reference, topK);
  const features = reference.features.map(({ feature }) => ({ feature, map: binOf.get(feature)! }));
  const scoreBins = Array.from({ length: edges.length + 1 }, (_, i) => `d${i + 1}`);
  return (lead, probability, visit) => {
    for (const { feature, map } of features) {
      const category = extractCategory(feature, lead);
      visit(feature, map.get(category) ?? (category === REST ? REST : OTHER));
    }
    if (!(probability >= 0 && probability <= 1)) throw new RangeError(`a probability must be in [0, 1], got ${probability}`);
    visit(SCORE, scoreBins[scoreBinIndex(edges, probability)]!);
  };
}

/** Every drift bin of one scored lead: what a server adds 1 to, per feature. */
export function binLead(reference: DriftReference, lead: Lead, probability: number, topK: number = DRIFT_DEFAULTS.topK): Record<string, string> {
  const out: Record<string, string> = {};
  leadBinner(reference, topK)(lead, probability, (feature, bin) => (out[feature] = bin));
  return out;
}

function normalise(values: ArrayLike<number>): number[] {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i]!;
  return Array.from(values, (v) => (total > 0 ? v / total : 0));
}

/**
 * Population stability index Σ (o − e) ln(o / e) over bins. Both distributions (shares or counts,
 * normalised here) get `epsilon` added to every bin and are renormalised, so an empty bin on
 * either side costs a finite amount instead of an infinite one.
 */
export function populationStabilityIndex(expected: ArrayLike<number>, observed: ArrayLike<number>, epsilon: number = DRIFT_DEFAULTS.epsilon): number {
  if (expected.length !== observed.length) throw new RangeError(`expected ${expected.length} bins, observed ${observed.length}`);
  if (!(epsilon > 0)) throw new RangeError(`epsilon must be positive, got ${epsilon}`);
  const smooth = (shares: number[]) => shares.map((s) => (s + epsilon) / (1 + epsilon * shares.length));
  const e = smooth(normalise(expected));
  const o = smooth(normalise(observed));
  let psi = 0;
  for (let i = 0; i < e.length; i++) psi += (o[i]! - e[i]!) * Math.log(o[i]! / e[i]!);
  return psi;
}

/** Jensen–Shannon distance (the square root of the divergence, base 2): 0 for equal distributions, 1 for disjoint ones. */
export function jensenShannonDistance(p: ArrayLike<number>, q: ArrayLike<number>): number {
  if (p.length !== q.length) throw new RangeError(`distributions differ in length: ${p.length} and ${q.length}`);
  const a = normalise(p);
  const b = normalise(q);
  let divergence = 0;
  for (let i = 0; i < a.length; i++) {
    const m = (a[i]! + b[i]!) / 2;
    if (a[i]! > 0) divergence += 0.5 * a[i]! * Math.log2(a[i]! / m);
    if (b[i]! > 0) divergence += 0.5 * b[i]! * Math.log2(b[i]! / m);
  }
  return Math.sqrt(Math.max(0, divergence));
}

export function driftStatus(psi: number | null, count: number, minCount: number = DRIFT_DEFAULTS.minCount): DriftStatus {
  if (psi === null || count < minCount) return 'insufficient_data';
  if (psi < DRIFT_DEFAULTS.moderate) return 'stable';
  if (psi <= DRIFT_DEFAULTS.significant) return 'moderate';
  return 'significant';
}

export interface DriftOptions {
  minCount?: number;
  topK?: number;
  epsilon?: number;
  movers?: number;
}

export interface BinShare {
  bin: string;
  expected: number;
  observed: number;
  count: number;
}

export interface FeatureDrift {
  feature: string;
  count: number;
  /** null when nothing was counted. */
  psi: number | null;
  js_distance: number | null;
  status: DriftStatus;
  bins: BinShare[];
  /** The bins whose share moved most, largest move first. */
  top_movers: (BinShare & { change: number })[];
}

export interface DriftReport {
  count: number;
  min_count: number;
  thresholds: { moderate: number; significant: number };
  top_k: number;
  /** The worst status over the features (insufficient data ranks below stable). */
  status: DriftStatus;
  features: FeatureDrift[];
}

export type ObservedCounts = Partial<Record<string, Record<string, number>>>;

const SEVERITY: DriftStatus[] = ['insufficient_data', 'stable', 'moderate', 'significant'];

/**
 * Drift of observed counts against the reference, per feature. `observed[feature]` maps a
 * category (or a bin name) to how many leads had it; for the score the keys are score bins
 * (`scoreBin`). A feature missing from `observed` counts as no leads.
 */
export function driftReport(reference: DriftReference, observed: ObservedCounts, options: DriftOptions = {}): DriftReport {
  const minCount = options.minCount ?? DRIFT_DEFAULTS.minCount;
  const topK = options.topK ?? DRIFT_DEFAULTS.topK;
  const epsilon = options.epsilon ?? DRIFT_DEFAULTS.epsilon;
  const moverCount = options.movers ?? DRIFT_DEFAULTS.movers;
  const features = driftFeatures(reference).map((feature): FeatureDrift => {
    const { bins, expected } = featureBins(reference, feature, topK);
    const index = new Map(bins.map((bin, i) => [bin, i]));
    const counts = new Array<number>(bins.length).fill(0);
    for (const [key, count] of Object.entries(observed[feature] ?? {})) {
      if (!(Number.isFinite(count) && count >= 0)) throw new RangeError(`observed.${feature}["${key}"] must be a count ≥ 0, got ${count}`);
      const bin = feature === SCORE ? key : categoryBin(reference, feature as FeatureName, key, topK);
      const at = index.get(bin);
      if (at === undefined) throw new RangeError(`observed.${feature} has an unknown score bin "${key}"; the reference has ${bins.join(', ')}`);
      counts[at]! += count;
    }
    const total = counts.reduce((a, b) => a + b, 0);
    const shares = normalise(counts);
    const psi = total > 0 ? populationStabilityIndex(expected, counts, epsilon) : null;
    const rows = bins.map((bin, i) => ({ bin, expected: expected[i]!, observed: shares[i]!, count: counts[i]! }));
    const movers = rows
      .map((row) => ({ ...row, change: row.observed - row.expected }))
      .sort((a, b) => Math.abs(b.change) - Math.abs(a.change) || (a.bin < b.bin ? -1 : 1))
      .slice(0, total > 0 ? moverCount : 0);
    return { feature, count: total, psi, js_distance: total > 0 ? jensenShannonDistance(expected, counts) : null, status: driftStatus(psi, total, minCount), bins: rows, top_movers: movers };
  });
  const status = features.reduce<DriftStatus>((worst, f) => (SEVERITY.indexOf(f.status) > SEVERITY.indexOf(worst) ? f.status : worst), 'insufficient_data');
  return {
    count: Math.max(...features.map((f) => f.count)),
    min_count: minCount,
    thresholds: { moderate: DRIFT_DEFAULTS.moderate, significant: DRIFT_DEFAULTS.significant },
    top_k: topK,
    status,
    features,
  };
}

/** Adds bin counts together (e.g. the time buckets of a window, or the replies of several processes) into a new object. */
export function mergeCounts(...parts: ObservedCounts[]): Record<string, Record<string, number>> {
  const total: Record<string, Record<string, number>> = {};
  for (const part of parts) {
    for (const [feature, counts] of Object.entries(part)) {
      const into = (total[feature] ??= {});
      for (const [bin, count] of Object.entries(counts ?? {})) into[bin] = (into[bin] ?? 0) + count;
    }
  }
  return total;
}

/** Counts per feature and bin for a list of scored leads: what a server would have accumulated. */
export function countLeads(reference: DriftReference, leads: readonly Lead[], probabilities: ArrayLike<number>, topK: number = DRIFT_DEFAULTS.topK): Record<string, Record<string, number>> {
  if (leads.length !== probabilities.length) throw new RangeError(`need one probability per lead, got ${probabilities.length} for ${leads.length} leads`);
  const counts: Record<string, Record<string, number>> = Object.fromEntries(driftFeatures(reference).map((f) => [f, {}]));
  const bin = leadBinner(reference, topK);
  const add = (feature: string, value: string) => (counts[feature]![value] = (counts[feature]![value] ?? 0) + 1);
  leads.forEach((lead, i) => bin(lead, probabilities[i]!, add));
  return counts;
}

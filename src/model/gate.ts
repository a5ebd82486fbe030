// The promotion gate: a candidate model against the champion on recent leads neither trained on.
import { isoDay, type LabelledLead } from '../features/lead.js';
import type { Artifact } from './artifact.js';
import { compareModels, type Comparison } from './compare.js';
import { Scorer } from './scorer.js';
import type { Tier } from './tiers.js';
import { sortLeads } from './training-set.js';
import { dayAfter } from './training.js';

export interface GateMargins {
  /** The candidate's ROC AUC minus the champion's must be at least this. */
  minAucGain: number;
  /** The candidate's Brier score minus the champion's (higher is worse) must be at most this. */
  maxBrierLoss: number;
  /** Fewer comparable leads than this is a refusal: the difference would be noise. */
  minLeads: number;
}

/**
 * 200 leads at the Olist conversion rate hold about 20–30 conversions, the least a comparison
 * can stand on. Measured on the April–May 2018 leads (a model trained before 2018-04-01 against
 * one trained before 2018-01-01, AUC +0.065 on all 2,655), 20 random samples each: at 200 leads
 * the 95 % interval of the AUC difference is 0.15–0.24 wide and the better model passes 17
 * times in 20; at 500, 0.09–0.13 wide and 20 in 20; at 1,000, 0.07–0.09. A wrong refusal costs
 * a wait for more outcomes; against a wrong promotion on noise, raise --min-auc-gain.
 */
export const DEFAULT_MARGINS: GateMargins = { minAucGain: 0, maxBrierLoss: 0, minLeads: 200 };

export interface GateVerdict {
  /** The first day neither model trained on: the day after the later of their last training days. */
  from: string;
  /** First-contact days of the leads compared (null when none). */
  first_contact_from: string | null;
  first_contact_to: string | null;
  leads: number;
  converted: number;
  /** Both models on those leads, with paired-bootstrap intervals; null when there were too few to compare. */
  comparison: Comparison | null;
  promote: boolean;
  /** Why it was refused (empty when promoted). */
  reasons: string[];
}

/** The first first-contact day that neither model trained on. */
export function comparisonStart(champion: Artifact, candidate: Artifact): string {
  const last = [champion.training_data.first_contact_to, candidate.training_data.first_contact_to].sort().at(-1)!;
  return dayAfter(last);
}

const signed = (x: number, digits: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}`;

/**
 * Scores the leads with both models' own scorers (exactly as the service would), compares them
 * with a paired bootstrap, and decides: promote only when the AUC gain and the Brier loss are
 * within the margins. Leads first contacted before `comparisonStart` are left out, whatever the
 * caller passed: one of the models may have learned them.
 */
export function judgeCandidate(
  champion: Artifact,
  candidate: Artifact,
  leads: readonly LabelledLead[],
  margins: GateMargins = DEFAULT_MARGINS,
  options: { resamples?: number; seed?: number } = {},
): GateVerdict {
  const from = comparisonStart(champion, candidate);
  // In one order whatever the store's collation, so the bootstrap draws, and the intervals, do not depend on the backend.
  const usable = sortLeads(leads.filter((lead) => isoDay(lead.first_contact_date) >= from));
  const days = usable.map((lead) => isoDay(lead.first_contact_date)).sort();
  const converted = usable.reduce((n, lead) => n + (lead.converted ? 1 : 0), 0);
  const verdict: GateVerdict = { from, first_contact_from: days[0] ?? null, first_contact_to: days.at(-1) ?? null, leads: usable.length, converted, comparison: null, promote: false, reasons: [] };
  const window = `first contacted on or after ${from}, the day after the later model's training data ends`;
  if (usable.length < margins.minLeads) {
    verdict.reasons.push(`only ${usable.length} stored lead(s) with a known outcome were ${window}; the gate needs at least ${margins.minLeads} (--min-leads) to tell the models apart`);
    return verdict;
  }
  if (converted === 0 || converted === usable.length) {
    verdict.reasons.push(`the ${usable.length} comparable leads (${window}) hold ${converted === 0 ? 'no conversion' : 'no lost lead'}, so ROC AUC is undefined`);
    return verdict;
  }
  const scoreWith = (artifact: Artifact) => {
    const scorer = new Scorer(artifact);
    const probabilities = new Float64Array(usable.length);
    const tiers: Tier[] = [];
    usable.forEach((lead, i) => {
      const { probability, tier } = scorer.rate(lead);
      probabilities[i] = probability;
      tiers.push(tier);
    });
    return { probabilities, tiers };
  };
  const a = scoreWith(champion);
  const b = scoreWith(candidate);
  const labels = Uint8Array.from(usable, (lead) => (lead.converted ? 1 : 0));
  const comparison = compareModels(labels, a.probabilities, b.probabilities, { champion: a.tiers, challenger: b.tiers }, options);
  verdict.comparison = comparison;
  const aucGain = comparison.roc_auc.difference;
  const brierLoss = comparison.brier.difference;
  if (!(aucGain >= margins.minAucGain)) verdict.reasons.push(`ROC AUC gain ${signed(aucGain, 4)} is below the minimum ${signed(margins.minAucGain, 4)} (--min-auc-gain)`);
  if (!(brierLoss <= margins.maxBrierLoss)) verdict.reasons.push(`Brier loss ${signed(brierLoss, 5)} is above the maximum ${signed(margins.maxBrierLoss, 5)} (--max-brier-loss)`);
  verdict.promote = verdict.reasons.length === 0;
  return verdict;
}

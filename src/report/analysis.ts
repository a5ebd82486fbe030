// The numbers behind the report: pure functions of the labelled leads and the scores.
import type { LabelledLead } from '../features/lead.js';
import { isoDay } from '../features/lead.js';
import { MISSING } from '../features/pipeline.js';
import { countPositives, descendingOrder } from '../model/metrics.js';

/** Wilson score interval for a proportion: sensible for small counts and rates near 0. */
export function wilsonInterval(successes: number, trials: number, z = 1.959964): { low: number; high: number } {
  if (trials === 0) return { low: 0, high: 1 };
  const p = successes / trials;
  const denominator = 1 + (z * z) / trials;
  const centre = (p + (z * z) / (2 * trials)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / trials + (z * z) / (4 * trials * trials))) / denominator;
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

export interface GroupRate {
  group: string;
  leads: number;
  converted: number;
  rate: number;
  low: number;
  high: number;
}

export function ratesBy(leads: readonly LabelledLead[], key: (lead: LabelledLead) => string): GroupRate[] {
  const groups = new Map<string, { leads: number; converted: number }>();
  for (const lead of leads) {
    const group = groups.get(key(lead)) ?? { leads: 0, converted: 0 };
    group.leads++;
    if (lead.converted) group.converted++;
    groups.set(key(lead), group);
  }
  return [...groups].map(([group, { leads: n, converted }]) => ({ group, leads: n, converted, rate: converted / n, ...wilsonInterval(converted, n) }));
}

export const originOf = (lead: LabelledLead) => lead.origin?.trim() || MISSING;
export const monthOf = (lead: LabelledLead) => isoDay(lead.first_contact_date).slice(0, 7);

export function missingValues(leads: readonly LabelledLead[]): { column: string; missing: number }[] {
  const blank = (value: unknown) => value === undefined || value === null || String(value).trim() === '';
  return (['mql_id', 'first_contact_date', 'landing_page_id', 'origin'] as const).map((column) => ({
    column,
    missing: leads.filter((lead) => blank(lead[column])).length,
  }));
}

/** Whole days from first contact to the closed deal, for converted leads. */
export function daysToClose(leads: readonly LabelledLead[]): number[] {
  return leads
    .filter((lead) => lead.converted && lead.won_date)
    .map((lead) => Math.floor((Date.parse(`${lead.won_date!.slice(0, 10)}T00:00:00Z`) - Date.parse(`${isoDay(lead.first_contact_date)}T00:00:00Z`)) / 86_400_000));
}

/** ROC points (false-positive rate, true-positive rate) at every distinct score. */
export function rocCurve(labels: ArrayLike<number>, scores: ArrayLike<number>): { fpr: number; tpr: number }[] {
  const positives = countPositives(labels);
  const negatives = labels.length - positives;
  const points = [{ fpr: 0, tpr: 0 }];
  forEachThreshold(labels, scores, (truePositives, seen) => points.push({ fpr: (seen - truePositives) / negatives, tpr: truePositives / positives }));
  return points;
}

/** Precision and recall at every distinct score. */
export function precisionRecallCurve(labels: ArrayLike<number>, scores: ArrayLike<number>): { recall: number; precision: number }[] {
  const positives = countPositives(labels);
  const points: { recall: number; precision: number }[] = [];
  forEachThreshold(labels, scores, (truePositives, seen) => points.push({ recall: truePositives / positives, precision: truePositives / seen }));
  return points;
}

/** Walks the leads best-scored first and reports the counts at the end of each run of tied scores. */
function forEachThreshold(labels: ArrayLike<number>, scores: ArrayLike<number>, visit: (truePositives: number, seen: number) => void): void {
  const order = descendingOrder(scores);
  let truePositives = 0;
  order.forEach((index, k) => {
    truePositives += labels[index]!;
    if (k === order.length - 1 || scores[order[k + 1]!] !== scores[index]) visit(truePositives, k + 1);
  });
}

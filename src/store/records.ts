// What the server hands the store, checked and laid out as rows, the same way for both backends.
import type { Outcome, OutcomeReceipt, ScoreBatch } from './store.js';

/**
 * One score row in the column order both backends insert: mql_id, first_contact_date,
 * landing_page_id, origin, probability, tier, model_version, scored_at (ms), request_id,
 * challenger_version, challenger_probability, challenger_tier.
 */
export type Row = [string, string, string, string | null, number, string, string, number, string, string | null, number | null, string | null];

export const SCORE_COLUMNS = [
  'mql_id',
  'first_contact_date',
  'landing_page_id',
  'origin',
  'probability',
  'tier',
  'model_version',
  'scored_at',
  'request_id',
  'challenger_version',
  'challenger_probability',
  'challenger_tier',
] as const;

export function prepareBatch(batch: ScoreBatch, scoredAtMs: number): Row[] {
  if (!Number.isFinite(scoredAtMs)) throw new TypeError('scored_at must be a valid Date');
  const challenger = batch.challenger_version ?? null;
  return batch.leads.map((lead, i) => {
    if (lead.challenger && challenger === null) throw new TypeError(`leads[${i}] has a challenger score but the batch names no challenger_version`);
    const shadow = challenger !== null ? (lead.challenger ?? null) : null;
    return [
      lead.mql_id,
      lead.first_contact_date,
      lead.landing_page_id,
      lead.origin || null, // null, empty or absent: missing
      lead.probability,
      lead.tier,
      batch.model_version,
      scoredAtMs,
      batch.request_id,
      shadow ? challenger : null,
      shadow ? shadow.probability : null,
      shadow ? shadow.tier : null,
    ];
  });
}

/** The last outcome given for each lead: a request naming a lead twice means its last word. */
export function uniqueOutcomes(outcomes: readonly Outcome[]): Outcome[] {
  return [...new Map(outcomes.map((outcome) => [outcome.mql_id, outcome])).values()];
}

export function receipt(outcomes: readonly Outcome[], scored: ReadonlyMap<string, boolean>, updated: number): OutcomeReceipt {
  let matched = 0;
  for (const { mql_id } of outcomes) if (scored.get(mql_id)) matched++;
  return { received: outcomes.length, matched, unmatched: outcomes.length - matched, updated };
}

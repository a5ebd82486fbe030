// A training set from the lead-score store's leads with known outcomes, optionally with the Olist files.
import { createHash } from 'node:crypto';
import type { LabelledLead } from '../features/lead.js';
import type { TrainingSource } from './artifact.js';

const byCode = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * One order for every source and backend: first contact, then mql_id, compared by code unit.
 * The solver sums over leads in this order, so the same leads give the same weights to the bit
 * whether they came from SQLite, PostgreSQL (whose ORDER BY follows the database's collation)
 * or the files.
 */
export function sortLeads<T extends LabelledLead>(leads: readonly T[]): T[] {
  return [...leads].sort((a, b) => byCode(a.first_contact_date, b.first_contact_date) || byCode(a.mql_id, b.mql_id));
}

/** sha256 over the four lead fields and the label of every lead, in mql_id order: what a model learned from, whatever its source. */
export function leadsFingerprint(leads: readonly LabelledLead[]): string {
  const hash = createHash('sha256');
  for (const lead of [...leads].sort((a, b) => byCode(a.mql_id, b.mql_id))) {
    hash.update(`${lead.mql_id}\t${lead.first_contact_date}\t${lead.landing_page_id}\t${lead.origin ?? ''}\t${lead.converted ? 1 : 0}\n`);
  }
  return hash.digest('hex');
}

export interface CombinedLeads {
  /** The training set, in `sortLeads` order. */
  leads: LabelledLead[];
  sources: TrainingSource[];
  /** Leads in both the store and the files: the store's record (and so its outcome) was used. */
  shared: number;
  /** Of those, how many have another outcome in the store than in the files. */
  outcomeChanged: number;
}

const countConverted = (leads: readonly LabelledLead[]) => leads.reduce((n, lead) => n + (lead.converted ? 1 : 0), 0);

/**
 * The store's leads, plus the files' leads the store does not hold. A lead in both is taken
 * from the store: its outcome is what the CRM reported to this service, which is newer than a
 * file exported earlier (and its fields are what was actually scored).
 */
export function combineSources(store: { location: string; leads: readonly LabelledLead[] }, files?: { location: string; leads: readonly LabelledLead[] }): CombinedLeads {
  const fromStore = new Map(store.leads.map((lead) => [lead.mql_id, lead]));
  const storeSource: TrainingSource = {
    kind: 'store',
    location: store.location,
    leads: store.leads.length,
    converted: countConverted(store.leads),
    sha256: leadsFingerprint(store.leads),
    used: store.leads.length,
  };
  if (!files) return { leads: sortLeads(store.leads), sources: [storeSource], shared: 0, outcomeChanged: 0 };
  let shared = 0;
  let outcomeChanged = 0;
  const onlyInFiles: LabelledLead[] = [];
  for (const lead of files.leads) {
    const stored = fromStore.get(lead.mql_id);
    if (!stored) {
      onlyInFiles.push(lead);
      continue;
    }
    shared++;
    if (stored.converted !== lead.converted) outcomeChanged++;
  }
  const fileSource: TrainingSource = {
    kind: 'files',
    location: files.location,
    leads: files.leads.length,
    converted: countConverted(files.leads),
    sha256: leadsFingerprint(files.leads),
    used: onlyInFiles.length,
    shared_with_store: shared,
    outcome_changed_by_store: outcomeChanged,
  };
  return { leads: sortLeads([...store.leads, ...onlyInFiles]), sources: [storeSource, fileSource], shared, outcomeChanged };
}

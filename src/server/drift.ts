// Drift of the leads this service scores: counts per bin kept in hourly buckets (when there is no
// store to count them in), and the report from either source against the model's training reference.
import type { Lead } from '../features/lead.js';
import { MISSING } from '../features/pipeline.js';
import type { Artifact } from '../model/artifact.js';
import { DRIFT_DEFAULTS, leadBinner, driftReport, mergeCounts, SCORE, type DriftReport, type ObservedCounts } from '../model/drift.js';
import type { DriftCounts, Store } from '../store/index.js';

const HOUR_MS = 3_600_000;
/** Hourly buckets kept in memory: a week covers any window a dashboard asks for without a store. */
const KEPT_HOURS = 24 * 7;

/**
 * Per-process counts of scored leads by drift bin, in hourly buckets. Counting a lead is a few
 * map lookups; a window's counts are the sum of its buckets. Bins are those of the reference
 * of the model that scored the lead, so a reload starts counting anew.
 */
export class DriftCounter {
  #buckets = new Map<number, Record<string, Record<string, number>>>();
  #artifact: Artifact | null = null;
  #bin: ReturnType<typeof leadBinner> | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  count(artifact: Artifact, leads: readonly Lead[], probabilities: readonly number[]): void {
    if (this.#artifact !== artifact) {
      this.#artifact = artifact;
      this.#bin = leadBinner(artifact.reference);
      this.#buckets.clear();
    }
    const hour = Math.floor(this.now() / HOUR_MS);
    let bucket = this.#buckets.get(hour);
    if (!bucket) {
      this.#buckets.set(hour, (bucket = {}));
      for (const old of this.#buckets.keys()) if (old <= hour - KEPT_HOURS) this.#buckets.delete(old);
    }
    const counted = bucket; // the closure below sees it as set
    const add = (feature: string, bin: string) => {
      const counts = (counted[feature] ??= {});
      counts[bin] = (counts[bin] ?? 0) + 1;
    };
    for (let i = 0; i < leads.length; i++) this.#bin!(leads[i]!, probabilities[i]!, add);
  }

  /** Counts of the buckets that overlap [since, now]. */
  counts(sinceMs: number): ObservedCounts {
    const first = Math.floor(sinceMs / HOUR_MS);
    return mergeCounts(...[...this.#buckets].filter(([hour]) => hour >= first).map(([, counts]) => counts));
  }
}

/** The store's category counts as a report reads them: a missing origin is "(missing)", score bins d1…dN. */
export function storeCountsToObserved(counts: DriftCounts): ObservedCounts {
  const categories = (rows: DriftCounts['origin']) => Object.fromEntries(rows.map(({ value, count }) => [value === null || value === '' ? MISSING : value, count]));
  return {
    origin: categories(counts.origin),
    landing_page_id: categories(counts.landing_page_id),
    [SCORE]: Object.fromEntries(counts.score_bins.map((count, i) => [`d${i + 1}`, count])),
  };
}

export interface DriftWindowReport extends DriftReport {
  window: { since: string | null; until: string; last: number | null; source: 'store' | 'memory' };
  model_version: string;
}

/**
 * Drift over a recent window: from the store when there is one (every replica then reports the
 * same), else from the counts the service's processes kept. A young service has fewer leads in
 * the window than a report needs, so the store falls back to the most recent leads.
 */
export async function measureDrift(
  artifact: Artifact,
  source: { store: Store | null; memory: (sinceMs: number) => Promise<ObservedCounts> },
  windowMs: number,
  now = Date.now(),
): Promise<DriftWindowReport> {
  const since = new Date(now - windowMs);
  const base = { model_version: artifact.model_version };
  if (source.store) {
    const edges = artifact.reference.score.edges;
    let counts = await source.store.driftCounts({ since, score_edges: edges, model_version: artifact.model_version });
    let last: number | null = null;
    if (counts.leads < DRIFT_DEFAULTS.minCount) {
      last = 2 * DRIFT_DEFAULTS.minCount;
      counts = await source.store.driftCounts({ last, score_edges: edges, model_version: artifact.model_version });
    }
    return { ...driftReport(artifact.reference, storeCountsToObserved(counts)), ...base, window: { since: last ? counts.from : since.toISOString(), until: new Date(now).toISOString(), last, source: 'store' } };
  }
  const observed = await source.memory(since.getTime());
  return { ...driftReport(artifact.reference, observed), ...base, window: { since: since.toISOString(), until: new Date(now).toISOString(), last: null, source: 'memory' } };
}

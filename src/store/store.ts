// The store's one interface: what the service records (scores, outcomes) and what it asks back.
import type { LabelledLead } from '../features/lead.js';
import type { Tier } from '../model/tiers.js';

/** Which store a deployment uses; `parseStoreUrl` reads it from STORE_URL. */
export type StoreLocation =
  | { kind: 'sqlite'; path: string; synchronous: 'normal' | 'full' }
  | { kind: 'postgres'; url: string }
  | { kind: 'none' };

/** What became of a lead: a closed deal, a lost lead (reported lost, or silent past the horizon), or not known yet. */
export type OutcomeStatus = 'converted' | 'lost' | 'unknown';

/** One lead as scored: the four lead fields, nothing else of what the client sent, and the score. */
export interface ScoredLead {
  mql_id: string;
  /** As the client sent it: `YYYY-MM-DD` or an ISO-8601 date-time. */
  first_contact_date: string;
  landing_page_id: string;
  /** `null`, empty or absent all mean missing and are stored as null. */
  origin?: string | null;
  probability: number;
  tier: Tier;
  /** The challenger's score of the same lead, when `ScoreBatch.challenger_version` names one. */
  challenger?: { probability: number; tier: Tier } | null;
}

/** The leads one request scored: recorded together or not at all. */
export interface ScoreBatch {
  request_id: string;
  scored_at: Date;
  /** The model that produced every score of the batch (a batch is never scored by two). */
  model_version: string;
  challenger_version?: string | null;
  leads: readonly ScoredLead[];
}

/** What the CRM reports about a lead. */
export interface Outcome {
  mql_id: string;
  /** When the deal closed (or was lost), as the CRM wrote it; may be null for a lost lead. */
  won_date: string | null;
  converted: boolean;
}

export interface OutcomeReceipt {
  /** Outcomes in the request. */
  received: number;
  /** Of those, how many name a lead that has been scored. */
  matched: number;
  /** The rest: kept, and joined when their lead is scored. */
  unmatched: number;
  /** Distinct leads whose stored outcome was new or different; posting the same outcomes again gives 0. */
  updated: number;
}

/** Which current scores a query is about; every field narrows, none set means all. */
export interface PredictionFilter {
  /** scored_at ≥ since */
  since?: Date;
  /** scored_at < until */
  until?: Date;
  tiers?: readonly Tier[];
  /** A channel, or null for leads whose origin is missing. */
  origin?: string | null;
  landing_page_id?: string;
  model_version?: string;
  outcome?: OutcomeStatus;
}

/** A lead's current score as the dashboards see it. */
export interface Prediction {
  mql_id: string;
  first_contact_date: string;
  landing_page_id: string;
  origin: string | null;
  probability: number;
  tier: Tier;
  model_version: string;
  /** ISO-8601 in UTC, milliseconds: `2018-05-02T14:05:00.000Z`. */
  scored_at: string;
  outcome: OutcomeStatus;
}

export interface PredictionPage {
  predictions: Prediction[];
  /** Pass as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}

/** One recorded score of a lead, as it was at that time. */
export interface ScoreEntry {
  first_contact_date: string;
  landing_page_id: string;
  origin: string | null;
  probability: number;
  tier: Tier;
  model_version: string;
  scored_at: string;
  request_id: string;
  challenger: { model_version: string; probability: number; tier: Tier } | null;
}

export interface LeadHistory {
  mql_id: string;
  current: ScoreEntry;
  /** Earlier scores, newest first. */
  history: ScoreEntry[];
  outcome: { status: OutcomeStatus; converted: boolean | null; won_date: string | null };
}

export type SummaryInterval = 'day' | 'week' | 'month';

export interface SummaryBucket {
  /** First day of the bucket (UTC), `YYYY-MM-DD`; weeks start on Monday. */
  start: string;
  leads: number;
  tiers: Record<Tier, number>;
  mean_probability: number;
  converted: number;
  /** Reported lost, or silent past the outcome horizon. */
  lost: number;
  /** converted / leads */
  conversion_rate: number;
}

/** Current scores whose outcome is known (horizon-lost included), one entry per lead, in the order they were stored. */
export interface LabelledScores {
  probabilities: Float64Array;
  /** 1 converted, 0 lost */
  labels: Uint8Array;
  tiers: Tier[];
}

/** Champion and challenger scores of the same leads with known outcomes. */
export interface ScorePairs {
  model_versions: string[];
  challenger_versions: string[];
  champion: Float64Array;
  challenger: Float64Array;
  champion_tiers: Tier[];
  challenger_tiers: Tier[];
  labels: Uint8Array;
}

export interface PairFilter {
  since?: Date;
  until?: Date;
  model_version?: string;
  challenger_version?: string;
}

/** The scored leads drift is measured on: those scored since a time, or the most recent `last`. */
export interface DriftWindow {
  since?: Date;
  /** With `since`: scores before this time only. */
  until?: Date;
  last?: number;
  model_version?: string;
  /**
   * Ascending inner edges of the score bins: bin 0 holds p < edges[0], bin i holds
   * edges[i-1] ≤ p < edges[i], the last bin p ≥ edges[last]. Default: no bins.
   */
  score_edges?: readonly number[];
}

export interface CategoryCount {
  value: string | null;
  count: number;
}

/** Counts over every score in the window (a lead scored twice counts twice: drift is about what the model saw). */
export interface DriftCounts {
  leads: number;
  /** scored_at of the oldest and newest score counted; null when none. */
  from: string | null;
  to: string | null;
  /** Largest count first. */
  origin: CategoryCount[];
  landing_page_id: CategoryCount[];
  tiers: Record<Tier, number>;
  /** One count per bin of `score_edges` (edges.length + 1 of them). */
  score_bins: number[];
}

/** Which leads to train or evaluate on, by first contact date (`YYYY-MM-DD`): from ≤ date < before. */
export interface TrainingFilter {
  first_contact_from?: string;
  first_contact_before?: string;
}

export interface StoreHealth {
  status: 'up' | 'down';
  backend: 'sqlite' | 'postgres';
  /** How long the write check took. */
  latency_ms: number;
  /** Why it is down. */
  message?: string;
}

/**
 * The service's memory. Every method may reject with StoreUnavailableError when the store
 * cannot be reached or written (the server answers 503 with Retry-After), and recovers by
 * itself when the store comes back; query methods reject with StoreInputError for a bad
 * argument a client sent (a cursor, a window).
 */
export interface Store {
  readonly backend: 'sqlite' | 'postgres';
  /** Where it is, without credentials: `sqlite:/abs/path.db`, `postgres://user@host:5432/db`. */
  readonly description: string;

  /**
   * Records the scores of one request, whole or not at all; resolves once they are committed.
   * Concurrent calls are grouped into one transaction, each still settling on its own rows.
   */
  recordScores(batch: ScoreBatch): Promise<void>;
  /** Records outcomes idempotently; an outcome for a lead never scored is kept and joins when it is. */
  recordOutcomes(outcomes: readonly Outcome[]): Promise<OutcomeReceipt>;

  /** Current scores (the latest of each lead), newest first, `limit` 1–1000 a page. */
  listPredictions(filter: PredictionFilter, page?: { limit?: number; cursor?: string | null }): Promise<PredictionPage>;
  /** Every matching current score (after `cursor`, when given), newest first, in chunks, holding only one chunk in memory. */
  exportPredictions(filter: PredictionFilter, options?: { chunkSize?: number; cursor?: string | null }): AsyncIterable<Prediction[]>;
  /** A lead's current score, its earlier ones and its outcome; null when it was never scored. */
  getLead(mqlId: string): Promise<LeadHistory | null>;
  /** Current scores bucketed by the day, week or month they were scored (UTC), oldest first. */
  summarize(filter: PredictionFilter, interval: SummaryInterval): Promise<SummaryBucket[]>;

  /** (probability, label) of current scores with a known outcome, for live model quality. */
  labelledScores(filter: Pick<PredictionFilter, 'since' | 'until' | 'model_version'>): Promise<LabelledScores>;
  /** Champion and challenger scores of current leads with a known outcome. */
  scorePairs(filter: PairFilter): Promise<ScorePairs>;
  /** Category and score-bin counts over a recent window of scores, for drift. */
  driftCounts(window: DriftWindow): Promise<DriftCounts>;
  /** Current leads with a known outcome, as training reads them (the four lead fields and the label). */
  labelledLeads(filter?: TrainingFilter): Promise<LabelledLead[]>;

  /**
   * Deletes scores older than `cutoff` (and outcomes received before it that match no score
   * left) in small transactions, so writers are never held up; returns the scores deleted.
   */
  deleteScoresBefore(cutoff: Date, options?: { batchSize?: number }): Promise<number>;

  /** Whether the store answers and takes a write; never rejects. */
  health(): Promise<StoreHealth>;
  /** Waits for pending writes, then closes; later calls reject with StoreUnavailableError. */
  close(): Promise<void>;
}

export interface StoreOptions {
  /** A lead with no outcome counts as lost once its first contact is more than this many days old. Default 180. */
  outcomeHorizonDays?: number;
  /** Milliseconds since the epoch; tests move it. Default Date.now. */
  now?: () => number;
  /** PostgreSQL connections per process for reads (pages, summaries, live quality, drift counts). Default 5; scores and the health check have 3 of their own, outcome uploads and retention 2, exports 3. */
  readPoolSize?: number;
  /** How long PostgreSQL may take to accept a connection, or to answer a write or the health check, before it is a 503. Default 5,000 ms. */
  answerTimeoutMs?: number;
  /** How long a PostgreSQL read (a page, a summary, live quality, drift counts) may run before the server cancels it and it is a 503; and an export's next chunk may take before the export is broken off. Default 60,000 ms. */
  readTimeoutMs?: number;
  /** Errors that happen outside any call (an idle PostgreSQL connection dropped); the store recovers by itself. */
  onBackgroundError?: (error: Error) => void;
}

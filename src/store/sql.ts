// The read queries, written once for both backends: a Dialect supplies the few expressions that differ.
/*
 * Kysely, which has both dialects, was the first choice for these; it was left out because
 * loading it costs more than the whole store: `import('kysely')` took 250–880 ms on this
 * machine (0.28, 280 ES modules; zod, loaded at start-up anyway, took 150–200 ms in the same
 * runs), against a 600 ms budget for the whole cold start. What differs between the two
 * dialects here is small (how a time is stored, a day's bucket, placeholders), so each query
 * is one SQL text with `?` placeholders and a Dialect for those differences.
 */
import type { Tier } from '../model/tiers.js';
import { TIERS } from '../model/tiers.js';
import { StoreInputError } from './errors.js';
import { LAST_INSTANT_MS, type LabelledLead } from '../features/lead.js';
import type { CategoryCount, DriftCounts, DriftWindow, LabelledScores, LeadHistory, OutcomeStatus, PairFilter, Prediction, PredictionFilter, ScoreEntry, ScorePairs, SummaryBucket, SummaryInterval, TrainingFilter } from './store.js';

export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  /** A placeholder for a time, and the value to bind to it. */
  time(ms: number): { placeholder: string; value: unknown };
  /** s.scored_at as milliseconds since the epoch, a number. */
  readonly scoredAtMs: string;
  /** The UTC day of s.scored_at as `YYYY-MM-DD`. */
  readonly scoredDay: string;
  /** True for the latest score of each lead: the one with the highest id. */
  readonly current: string;
}

/** SQL text with `?` placeholders and their values in order; the text never holds a literal `?`. */
export class Sql {
  text = '';
  readonly params: unknown[] = [];
  constructor(readonly dialect: Dialect) {}

  add(text: string, ...params: unknown[]): this {
    this.text += text;
    for (const param of params) this.params.push(param);
    return this;
  }

  time(ms: number): this {
    const { placeholder, value } = this.dialect.time(ms);
    return this.add(placeholder, value);
  }

  list(values: readonly unknown[]): this {
    return this.add(`(${values.map(() => '?').join(', ')})`, ...values);
  }
}

const DAY_MS = 86_400_000;

/** Leads first contacted before this day (`YYYY-MM-DD`) and still without an outcome count as lost. */
export function horizonCutoff(nowMs: number, horizonDays: number): string {
  return new Date(nowMs - horizonDays * DAY_MS).toISOString().slice(0, 10);
}

const FROM_SCORES = ' FROM scores s LEFT JOIN outcomes o ON o.mql_id = s.mql_id';
const CONVERTED = 'o.converted';
const LOST = '(NOT o.converted OR (o.converted IS NULL AND s.first_contact_date < ?))';
const KNOWN = '(o.converted IS NOT NULL OR s.first_contact_date < ?)';

function outcomeExpression(sql: Sql, cutoff: string): Sql {
  return sql.add(`CASE WHEN ${CONVERTED} THEN 'converted' WHEN o.converted IS NOT NULL OR s.first_contact_date < ? THEN 'lost' ELSE 'unknown' END`, cutoff);
}

function whereFilter(sql: Sql, filter: PredictionFilter, cutoff: string): Sql {
  sql.add(` WHERE ${sql.dialect.current}`);
  if (filter.since) sql.add(' AND s.scored_at >= ').time(filter.since.getTime());
  if (filter.until) sql.add(' AND s.scored_at < ').time(filter.until.getTime());
  if (filter.tiers && filter.tiers.length) sql.add(' AND s.tier IN ').list(filter.tiers);
  if (filter.origin === null) sql.add(' AND s.origin IS NULL');
  else if (filter.origin !== undefined) sql.add(' AND s.origin = ?', filter.origin);
  if (filter.landing_page_id !== undefined) sql.add(' AND s.landing_page_id = ?', filter.landing_page_id);
  if (filter.model_version !== undefined) sql.add(' AND s.model_version = ?', filter.model_version);
  if (filter.outcome === 'converted') sql.add(` AND ${CONVERTED}`);
  else if (filter.outcome === 'lost') sql.add(` AND ${LOST}`, cutoff);
  else if (filter.outcome === 'unknown') sql.add(' AND o.converted IS NULL AND s.first_contact_date >= ?', cutoff);
  return sql;
}

// ---- current predictions: pages and the export

/** Column order of a prediction row: the Prediction fields, then the id for the cursor. */
export function predictionsQuery(dialect: Dialect, filter: PredictionFilter, cutoff: string, after: Cursor | null, limit: number | null): Sql {
  const sql = new Sql(dialect).add(`SELECT s.mql_id, s.first_contact_date, s.landing_page_id, s.origin, s.probability, s.tier, s.model_version, ${dialect.scoredAtMs}, `);
  outcomeExpression(sql, cutoff).add(', s.id').add(FROM_SCORES);
  whereFilter(sql, filter, cutoff);
  if (after) sql.add(' AND (s.scored_at, s.id) < (').time(after.scoredAtMs).add(', ?)', after.id);
  sql.add(' ORDER BY s.scored_at DESC, s.id DESC');
  if (limit !== null) sql.add(' LIMIT ?', limit);
  return sql;
}

/** Maps prediction rows; rows come ordered by scored_at, so the ISO text of the previous row's time is reused. */
export function predictionMapper(): (row: unknown[]) => Prediction {
  let lastMs = Number.NaN;
  let lastIso = '';
  return (row) => {
    if (row[7] !== lastMs) {
      lastMs = row[7] as number;
      lastIso = new Date(lastMs).toISOString();
    }
    return {
      mql_id: row[0] as string,
      first_contact_date: row[1] as string,
      landing_page_id: row[2] as string,
      origin: row[3] as string | null,
      probability: row[4] as number,
      tier: row[5] as Tier,
      model_version: row[6] as string,
      scored_at: lastIso,
      outcome: row[8] as OutcomeStatus,
    };
  };
}

export interface Cursor {
  scoredAtMs: number;
  id: number;
}

/** Opaque to clients: the position of the last row of a page. */
export function encodeCursor(row: unknown[]): string {
  return Buffer.from(`${row[7] as number}:${row[9] as number}`).toString('base64url');
}

export function decodeCursor(cursor: string): Cursor {
  const match = /^(\d{1,16}):(\d{1,16})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  const scoredAtMs = Number(match?.[1]);
  const id = Number(match?.[2]);
  // A time past year 9999 or an id past 2^53 was made by hand (PostgreSQL refused the time with a 500).
  if (!match || cursor.length > 64 || scoredAtMs > LAST_INSTANT_MS || !Number.isSafeInteger(id)) {
    throw new StoreInputError('cursor', 'is not a cursor this API returned; pass next_cursor from the previous page as it was');
  }
  return { scoredAtMs, id };
}

/** Whether a cursor is one the store could have returned, checked before a response starts. */
export function isCursor(cursor: string): boolean {
  try {
    decodeCursor(cursor);
    return true;
  } catch {
    return false;
  }
}

export function checkLimit(limit: number | undefined): number {
  const value = limit ?? 100;
  if (!Number.isInteger(value) || value < 1 || value > 1000) throw new StoreInputError('limit', 'must be a whole number from 1 to 1000');
  return value;
}

// ---- one lead

export function leadScoresQuery(dialect: Dialect, mqlId: string): Sql {
  return new Sql(dialect).add(
    `SELECT s.first_contact_date, s.landing_page_id, s.origin, s.probability, s.tier, s.model_version, ${dialect.scoredAtMs}, s.request_id, ` +
      's.challenger_version, s.challenger_probability, s.challenger_tier FROM scores s WHERE s.mql_id = ? ORDER BY s.id DESC',
    mqlId,
  );
}

export function toScoreEntry(row: unknown[]): ScoreEntry {
  return {
    first_contact_date: row[0] as string,
    landing_page_id: row[1] as string,
    origin: row[2] as string | null,
    probability: row[3] as number,
    tier: row[4] as Tier,
    model_version: row[5] as string,
    scored_at: new Date(row[6] as number).toISOString(),
    request_id: row[7] as string,
    challenger: row[8] === null ? null : { model_version: row[8] as string, probability: row[9] as number, tier: row[10] as Tier },
  };
}

export function leadOutcomeQuery(dialect: Dialect, mqlId: string): Sql {
  return new Sql(dialect).add('SELECT o.converted, o.won_date FROM outcomes o WHERE o.mql_id = ?', mqlId);
}

// ---- summary

export function summaryQuery(dialect: Dialect, filter: PredictionFilter, cutoff: string): Sql {
  const sql = new Sql(dialect).add(`SELECT ${dialect.scoredDay} AS day, count(*)`);
  for (const tier of TIERS) sql.add(`, sum(CASE WHEN s.tier = '${tier}' THEN 1 ELSE 0 END)`);
  sql.add(`, sum(s.probability), sum(CASE WHEN ${CONVERTED} THEN 1 ELSE 0 END), sum(CASE WHEN ${LOST} THEN 1 ELSE 0 END)`, cutoff).add(FROM_SCORES);
  return whereFilter(sql, filter, cutoff).add(' GROUP BY day ORDER BY day');
}

/** The first day of the bucket a `YYYY-MM-DD` day falls in. */
export function bucketStart(day: string, interval: SummaryInterval): string {
  if (interval === 'day') return day;
  if (interval === 'month') return `${day.slice(0, 7)}-01`;
  const date = new Date(`${day}T00:00:00Z`);
  const sinceMonday = (date.getUTCDay() + 6) % 7;
  return new Date(date.getTime() - sinceMonday * DAY_MS).toISOString().slice(0, 10);
}

/** Folds day rows (day, leads, A, B, C, D, probability sum, converted, lost) into buckets. */
export function foldSummary(rows: unknown[][], interval: SummaryInterval): SummaryBucket[] {
  const buckets = new Map<string, SummaryBucket & { probabilitySum: number }>();
  for (const row of rows) {
    const start = bucketStart(row[0] as string, interval);
    let bucket = buckets.get(start);
    if (!bucket) {
      bucket = { start, leads: 0, tiers: { A: 0, B: 0, C: 0, D: 0 }, mean_probability: 0, converted: 0, lost: 0, conversion_rate: 0, probabilitySum: 0 };
      buckets.set(start, bucket);
    }
    bucket.leads += Number(row[1]);
    TIERS.forEach((tier, i) => (bucket.tiers[tier] += Number(row[2 + i])));
    bucket.probabilitySum += Number(row[6]);
    bucket.converted += Number(row[7]);
    bucket.lost += Number(row[8]);
  }
  return [...buckets.values()].map(({ probabilitySum, ...bucket }) => ({
    ...bucket,
    mean_probability: probabilitySum / bucket.leads,
    conversion_rate: bucket.converted / bucket.leads,
  }));
}

// ---- live quality, champion and challenger, training

const LABEL = `CASE WHEN ${CONVERTED} THEN 1 ELSE 0 END`;

export function labelledScoresQuery(dialect: Dialect, filter: PredictionFilter, cutoff: string): Sql {
  const sql = new Sql(dialect).add(`SELECT s.probability, s.tier, ${LABEL}`).add(FROM_SCORES);
  return whereFilter(sql, filter, cutoff).add(` AND ${KNOWN}`, cutoff).add(' ORDER BY s.id');
}

export function scorePairsQuery(dialect: Dialect, filter: PairFilter, cutoff: string): Sql {
  const sql = new Sql(dialect).add(`SELECT s.model_version, s.challenger_version, s.probability, s.challenger_probability, s.tier, s.challenger_tier, ${LABEL}`).add(FROM_SCORES);
  whereFilter(sql, { since: filter.since, until: filter.until, model_version: filter.model_version }, cutoff);
  sql.add(' AND s.challenger_version IS NOT NULL');
  if (filter.challenger_version !== undefined) sql.add(' AND s.challenger_version = ?', filter.challenger_version);
  return sql.add(` AND ${KNOWN}`, cutoff).add(' ORDER BY s.id');
}

const DAY_TEXT = /^\d{4}-\d{2}-\d{2}$/;

export function labelledLeadsQuery(dialect: Dialect, filter: TrainingFilter, cutoff: string): Sql {
  const sql = new Sql(dialect).add(`SELECT s.mql_id, s.first_contact_date, s.landing_page_id, s.origin, ${LABEL}, o.won_date`).add(FROM_SCORES);
  whereFilter(sql, {}, cutoff).add(` AND ${KNOWN}`, cutoff);
  for (const [field, operator] of [['first_contact_from', '>='], ['first_contact_before', '<']] as const) {
    const day = filter[field];
    if (day === undefined) continue;
    if (!DAY_TEXT.test(day)) throw new StoreInputError(field, 'must be a date, YYYY-MM-DD');
    sql.add(` AND s.first_contact_date ${operator} ?`, day);
  }
  return sql.add(' ORDER BY s.first_contact_date, s.mql_id');
}

// ---- drift

function checkWindow(window: DriftWindow): readonly number[] {
  if (window.last !== undefined && (!Number.isInteger(window.last) || window.last < 1)) throw new StoreInputError('last', 'must be a whole number of leads, at least 1');
  if (window.since === undefined && window.last === undefined) throw new StoreInputError('window', 'needs since or last');
  const edges = window.score_edges ?? [];
  for (let i = 0; i < edges.length; i++) {
    if (!Number.isFinite(edges[i]) || (i > 0 && !(edges[i]! > edges[i - 1]!))) throw new StoreInputError('score_edges', 'must be finite and strictly ascending');
  }
  return edges;
}

/** Rows (origin, landing_page_id, tier, bin, count, oldest ms, newest ms) over the window's scores. */
export function driftQuery(dialect: Dialect, window: DriftWindow): Sql {
  const edges = checkWindow(window);
  const sql = new Sql(dialect).add('SELECT s.origin, s.landing_page_id, s.tier, ');
  if (edges.length === 0) sql.add('0');
  else {
    sql.add('CASE');
    edges.forEach((edge, i) => sql.add(` WHEN s.probability < ? THEN ${i}`, edge));
    sql.add(` ELSE ${edges.length} END`);
  }
  sql.add(` AS bin, count(*), min(${dialect.scoredAtMs}), max(${dialect.scoredAtMs}) FROM `);
  // the newest `last` scores are found on the (scored_at, id) index before anything is grouped
  sql.add('(SELECT * FROM scores WHERE 1 = 1');
  if (window.since) sql.add(' AND scored_at >= ').time(window.since.getTime());
  if (window.until) sql.add(' AND scored_at < ').time(window.until.getTime());
  if (window.model_version !== undefined) sql.add(' AND model_version = ?', window.model_version);
  if (window.last !== undefined) sql.add(' ORDER BY scored_at DESC, id DESC LIMIT ?', window.last);
  return sql.add(') s GROUP BY s.origin, s.landing_page_id, s.tier, bin');
}

export function foldDrift(rows: unknown[][], binCount: number): DriftCounts {
  const origin = new Map<string | null, number>();
  const pages = new Map<string | null, number>();
  const tiers: Record<Tier, number> = { A: 0, B: 0, C: 0, D: 0 };
  const bins = new Array<number>(binCount).fill(0);
  let leads = 0;
  let from = Infinity;
  let to = -Infinity;
  for (const row of rows) {
    const count = Number(row[4]);
    leads += count;
    origin.set(row[0] as string | null, (origin.get(row[0] as string | null) ?? 0) + count);
    pages.set(row[1] as string, (pages.get(row[1] as string) ?? 0) + count);
    tiers[row[2] as Tier] += count;
    bins[Number(row[3])]! += count;
    from = Math.min(from, Number(row[5]));
    to = Math.max(to, Number(row[6]));
  }
  const sorted = (counts: Map<string | null, number>): CategoryCount[] =>
    [...counts].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count || String(a.value).localeCompare(String(b.value)));
  return {
    leads,
    from: leads ? new Date(from).toISOString() : null,
    to: leads ? new Date(to).toISOString() : null,
    origin: sorted(origin),
    landing_page_id: sorted(pages),
    tiers,
    score_bins: bins,
  };
}

/** PostgreSQL numbers its placeholders. */
export function numberPlaceholders(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

// ---- rows to results, shared by both backends

export function leadOutcome(row: unknown[] | undefined, firstContactDate: string, cutoff: string): LeadHistory['outcome'] {
  if (!row) return { status: firstContactDate < cutoff ? 'lost' : 'unknown', converted: null, won_date: null };
  const converted = Boolean(row[0]);
  return { status: converted ? 'converted' : 'lost', converted, won_date: row[1] as string | null };
}

export function toLabelledScores(rows: unknown[][]): LabelledScores {
  const probabilities = new Float64Array(rows.length);
  const labels = new Uint8Array(rows.length);
  const tiers = new Array<Tier>(rows.length);
  rows.forEach((row, i) => {
    probabilities[i] = row[0] as number;
    tiers[i] = row[1] as Tier;
    labels[i] = Number(row[2]);
  });
  return { probabilities, labels, tiers };
}

export function toScorePairs(rows: unknown[][]): ScorePairs {
  const pairs: ScorePairs = {
    model_versions: [],
    challenger_versions: [],
    champion: new Float64Array(rows.length),
    challenger: new Float64Array(rows.length),
    champion_tiers: [],
    challenger_tiers: [],
    labels: new Uint8Array(rows.length),
  };
  rows.forEach((row, i) => {
    pairs.model_versions.push(row[0] as string);
    pairs.challenger_versions.push(row[1] as string);
    pairs.champion[i] = row[2] as number;
    pairs.challenger[i] = row[3] as number;
    pairs.champion_tiers.push(row[4] as Tier);
    pairs.challenger_tiers.push(row[5] as Tier);
    pairs.labels[i] = Number(row[6]);
  });
  return pairs;
}

export function toLabelledLead(row: unknown[]): LabelledLead {
  const converted = Number(row[4]) === 1;
  const lead: LabelledLead = { mql_id: row[0] as string, first_contact_date: row[1] as string, landing_page_id: row[2] as string, origin: row[3] as string | null, converted };
  if (converted && row[5] !== null) lead.won_date = row[5] as string;
  return lead;
}

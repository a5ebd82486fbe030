// The shared store: PostgreSQL through a pg pool, for several replicas writing to one database.
import pg from 'pg';
import Cursor from 'pg-cursor';
import type { LabelledLead } from '../features/lead.js';
import { StoreConfigError, StoreUnavailableError } from './errors.js';
import { pendingMigrations } from './migrations/index.js';
import { prepareBatch, receipt, uniqueOutcomes, type Row } from './records.js';
import * as q from './sql.js';
import type {
  DriftCounts,
  DriftWindow,
  LabelledScores,
  LeadHistory,
  Outcome,
  OutcomeReceipt,
  PairFilter,
  Prediction,
  PredictionFilter,
  PredictionPage,
  ScoreBatch,
  ScorePairs,
  Store,
  StoreHealth,
  StoreOptions,
  SummaryBucket,
  SummaryInterval,
  TrainingFilter,
} from './store.js';
import { redact } from './url.js';
import { WriteQueue } from './write-queue.js';

// pg and pg-cursor load with this module, which openStore imports only for a PostgreSQL store.
type Pg = typeof pg;
type PgPool = pg.Pool;
type PgClient = pg.PoolClient;
type CursorClass = typeof Cursor;

const dialect: q.Dialect = {
  name: 'postgres',
  // ISO strings rather than Date objects: pg would write a Date in the process's local time zone.
  time: (ms) => ({ placeholder: '?::timestamptz', value: new Date(ms).toISOString() }),
  // date_part is a double (extract's numeric was a third slower to export); rounded, it is the exact millisecond stored
  scoredAtMs: "round(date_part('epoch', s.scored_at) * 1000)",
  scoredDay: "to_char(s.scored_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
  // Derived, never stored: replicas rescoring one lead at once cannot leave two current rows.
  current: 'NOT EXISTS (SELECT 1 FROM scores n WHERE n.mql_id = s.mql_id AND n.id > s.id)',
};

/*
 * One statement for any number of rows: each column travels as one array parameter and
 * unnest turns them back into rows, in order (WITH ORDINALITY … ORDER BY keeps a lead's later
 * score of the same request the later id). No 65,535-parameter ceiling, one plan per connection.
 */
const INSERT_SCORES = `INSERT INTO scores (${'mql_id, first_contact_date, landing_page_id, origin, probability, tier, model_version, scored_at, request_id, challenger_version, challenger_probability, challenger_tier'})
  SELECT m, f, l, o, p, t, v, a, r, cv, cp, ct
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::text[], $7::text[], $8::timestamptz[], $9::text[], $10::text[], $11::float8[], $12::text[])
    WITH ORDINALITY AS u(m, f, l, o, p, t, v, a, r, cv, cp, ct, n)
  ORDER BY n`;

const UPSERT_OUTCOMES = `WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bool[]) AS u(mql_id, won_date, converted)
  ), changed AS (
    INSERT INTO outcomes (mql_id, won_date, converted, received_at)
    SELECT mql_id, won_date, converted, $4::timestamptz FROM input
    ON CONFLICT (mql_id) DO UPDATE SET won_date = excluded.won_date, converted = excluded.converted, received_at = excluded.received_at
    WHERE outcomes.won_date IS DISTINCT FROM excluded.won_date OR outcomes.converted <> excluded.converted
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM changed), array(SELECT i.mql_id FROM input i WHERE EXISTS (SELECT 1 FROM scores s WHERE s.mql_id = i.mql_id))`;

/** Exports running at once per process; more wait for one to finish (or fail after 5 s, like any connection). */
const EXPORTS_AT_ONCE = 3;
/**
 * Connections per purpose, each a pool of its own, so that no kind of call can take the
 * connections another needs. Scores: two groups in flight (the write queue's limit) and the health
 * check, which is a write too. When reads shared one pool with the writes, ten summaries stuck
 * behind a lock (or just slow, on a large store) held every connection and scoring answered 503
 * until one finished; outcome uploads waiting on a lock did the same to a pool they shared with
 * scoring. Outcome uploads and retention's deletes share two; reads (pages, summaries, live quality,
 * drift counts) have the rest of the 13, but for StoreOptions.readPoolSize.
 */
const SCORE_CONNECTIONS = 3;
const UPKEEP_CONNECTIONS = 2;
const READ_CONNECTIONS = 5;
/**
 * A connection not accepted by then, or a write (or the health check) not answered, is a 503. A
 * server that stops answering without closing its connections (frozen, or cut off by a network
 * partition that TCP notices only after hours) held every scoring request until the client gave
 * up, and the requests behind them too. Such a write may still be committed if the server comes
 * back: scoring the lead again then adds a second score to its history, the newer one current.
 */
const ANSWER_TIMEOUT_MS = 5_000;
/**
 * How long a read may run (STORE_READ_TIMEOUT_MS): a page, a summary, live quality, drift counts.
 * Each read runs in a read-only transaction with `SET LOCAL statement_timeout`, so the server cancels
 * a read nobody waits for any more (the client giving up alone left the query running, and queries
 * stuck behind a lock piled up until they took every connection the database allows) and answers
 * with an error the store turns into a 503. SET LOCAL, not a connection setting: a pooler in front
 * (PgBouncer) refuses statement_timeout as a start-up parameter, and in transaction pooling a
 * session's SET would follow the server connection to other clients. A frozen server cannot cancel
 * anything, so the client gives up itself a little later. An export's chunks are timed by the
 * client alone: a cursor's statement stays open from its first chunk to its last, and the server's
 * timeout would cut off every export that takes longer than it as a whole. A summary of an
 * unfiltered 3-million-score store took 7.5 s, and the first chunk of its export (sorted on the
 * server before any row comes) as long; ten at once, 45–64 s.
 */
const READ_TIMEOUT_MS = 60_000;
/** The client's own deadline past the server's, for a server that cannot cancel (frozen, or cut off). */
const CLIENT_GRACE_MS = 2_000;

/** A connection checked out of a pool, watched while it is: `broken` once it failed, and closed rather than reused then. */
interface Lease {
  readonly client: PgClient;
  broken: boolean;
  release(): void;
}

/**
 * Checks a connection out of `pool`. One that dies while checked out (a restart, a failover, a cut)
 * emits 'error', which with no listener ended the whole process (pg's own pool.query listens only
 * for the query it runs); its pending query fails too, which the caller reports.
 */
async function lease(pool: PgPool): Promise<Lease> {
  const client = await pool.connect();
  const onError = () => void (leased.broken = true);
  const leased: Lease = {
    client,
    broken: false,
    release: () => {
      client.off('error', onError);
      client.release(leased.broken);
    },
  };
  client.on('error', onError);
  return leased;
}

/** Errors that mean the database cannot be reached or written now; anything else is a bug and stays as it is. */
export function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    // 08 connection, 53 resources (disk full, too many connections), 57P0x shutdown, 58 I/O,
    // 28 authentication, 3D000 no such database, 25006 read-only (a standby), 40001/40P01 retry, 57014 timed out
    if (/^(08|53|57P0|58|28|3D000$|25006$|40001$|40P01$|57014$)/.test(code)) return true;
    if (/^E[A-Z]+$/.test(code)) return true; // ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE, ENOTFOUND…
  }
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|Query read timeout/i.test(
    (error as Error)?.message ?? '',
  );
}

export class PostgresStore implements Store {
  readonly backend = 'postgres' as const;
  readonly description: string;
  /** Scores, the health check and migrations. */
  private readonly writePool: PgPool;
  /** Outcome uploads and retention's deletes. */
  private readonly upkeepPool: PgPool;
  /** Pages, summaries, live quality and drift counts: never the connections scoring needs. */
  private readonly readPool: PgPool;
  /** Exports hold a connection for as long as their client reads: a pool of their own, so slow readers never starve the writes. */
  private readonly exportPool: PgPool;
  private closed = false;
  private readonly horizonDays: number;
  private readonly now: () => number;
  private readonly answerTimeoutMs: number;
  private readonly readTimeoutMs: number;
  /** The client's own limit on a read: the server's, and the grace for a server that cannot cancel. */
  private readonly readDeadlineMs: number;
  // Two in flight: while one group's commit is on its way, the next gathers (more in flight only split the groups).
  private readonly queue = new WriteQueue<Row[]>((batches) => this.writeGroup(batches), { maxInFlight: 2, maxSize: 50_000 });

  constructor(
    url: string,
    pg: Pg,
    private readonly Cursor: CursorClass,
    options: StoreOptions,
  ) {
    this.description = redact(url);
    this.horizonDays = options.outcomeHorizonDays ?? 180;
    this.now = options.now ?? Date.now;
    this.answerTimeoutMs = options.answerTimeoutMs ?? ANSWER_TIMEOUT_MS;
    this.readTimeoutMs = options.readTimeoutMs ?? READ_TIMEOUT_MS;
    this.readDeadlineMs = this.readTimeoutMs + CLIENT_GRACE_MS;
    // bigint (counts, ids) as a number: every count and id here stays far below 2^53.
    const types = { getTypeParser: (oid: number, format?: 'text' | 'binary') => (oid === 20 ? Number : pg.types.getTypeParser(oid, format)) };
    const settings = {
      connectionString: url,
      connectionTimeoutMillis: this.answerTimeoutMs, // a store that does not answer is a 503 after 5 s, not a hung request
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      // No pool-wide query_timeout: pg times a cursor from its first query to the end of the export,
      // and a client reading slowly had its export end early, complete-looking, at the timeout. Each
      // call sets its own instead. A query past its client-side timeout fails, and the pool closes
      // its connection rather than reuse it.
      fallback_application_name: 'leadscore',
      types: types as never,
    };
    this.writePool = new pg.Pool({ ...settings, max: SCORE_CONNECTIONS });
    this.upkeepPool = new pg.Pool({ ...settings, max: UPKEEP_CONNECTIONS });
    this.readPool = new pg.Pool({ ...settings, max: options.readPoolSize ?? READ_CONNECTIONS });
    this.exportPool = new pg.Pool({ ...settings, max: EXPORTS_AT_ONCE });
    // An idle connection dropped by the server (restart, failover) is reported here; the pool replaces it.
    for (const pool of this.pools()) pool.on('error', (error) => options.onBackgroundError?.(error));
  }

  private pools(): PgPool[] {
    return [this.writePool, this.upkeepPool, this.readPool, this.exportPool];
  }

  async open(): Promise<this> {
    try {
      await this.migrate();
      return this;
    } catch (error) {
      await Promise.all(this.pools().map((pool) => pool.end())).catch(() => undefined);
      if (error instanceof RangeError) throw new StoreConfigError(`${this.description}: ${error.message}`, { cause: error });
      throw this.unavailable(error);
    }
  }

  /** Applies pending migrations under an advisory lock, so replicas starting at once apply each exactly once. */
  private async migrate(): Promise<void> {
    const leased = await lease(this.writePool);
    const { client } = leased;
    const applied = async () =>
      (await client.query("SELECT to_regclass('store_migrations') IS NOT NULL AS present")).rows[0].present
        ? (await client.query('SELECT version FROM store_migrations')).rows.map((row: { version: number }) => row.version)
        : [];
    try {
      if (pendingMigrations(await applied()).length === 0) return;
      await client.query('BEGIN');
      // A migration (an index on a large table) may run far longer than any read, and waits for another replica's.
      await client.query('SET LOCAL statement_timeout = 0');
      await client.query("SELECT pg_advisory_xact_lock(hashtext('leadscore store migrations'))");
      await client.query('CREATE TABLE IF NOT EXISTS store_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
      for (const migration of pendingMigrations(await applied())) {
        await client.query(migration.postgres);
        await client.query('INSERT INTO store_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      }
      await client.query('COMMIT');
    } catch (error) {
      if (!leased.broken) await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      leased.release();
    }
  }

  private unavailable(error: unknown, reading = false): Error {
    if (error instanceof StoreUnavailableError || !isUnavailable(error)) return error as Error;
    if (reading && (error as { code?: unknown }).code === '57014' && /statement timeout/.test((error as Error).message)) {
      // A read the server cancelled at the read limit may well run as long again: a client told to
      // retry in 5 s sent it again every 5 s, each holding a read connection for the whole limit.
      return new StoreUnavailableError(`the store (${this.description}) cancelled a read at STORE_READ_TIMEOUT_MS: ${(error as Error).message}`, {
        cause: error,
        retryAfterSeconds: Math.ceil(this.readTimeoutMs / 1000),
        advice: `the read ran past STORE_READ_TIMEOUT_MS (${this.readTimeoutMs} ms) and was cancelled: narrow it (since, until, filters) or raise the limit`,
      });
    }
    return new StoreUnavailableError(`the store (${this.description}) is unavailable: ${(error as Error).message}`, { cause: error, retryAfterSeconds: 5 });
  }

  /** One read, in a read-only transaction the server ends after readTimeoutMs (see READ_TIMEOUT_MS). */
  private async rows(sql: q.Sql): Promise<unknown[][]> {
    const result = await this.transaction(this.readPool, { readOnly: true, serverMs: this.readTimeoutMs, clientMs: this.readDeadlineMs }, { text: q.numberPlaceholders(sql.text), values: sql.params, rowMode: 'array' });
    return result.rows as unknown[][];
  }

  /**
   * One statement in a transaction of its own that the server ends after `serverMs` (SET LOCAL
   * statement_timeout, see READ_TIMEOUT_MS), and that the client gives up on after `clientMs`: for
   * reads a little later, for a server that cannot cancel; for writes at the same time, the 5 s a
   * write may take. The server's own limit matters for writes too: an upload the client had given
   * up on waited on a lock in the server, and its connection was replaced; under a lock held for a
   * minute those waiting connections piled up until the server refused new ones.
   */
  private async transaction(pool: PgPool, mode: { readOnly: boolean; serverMs: number; clientMs: number }, statement: { text: string; values?: readonly unknown[]; rowMode?: 'array' }): Promise<pg.QueryResult> {
    if (this.closed) throw new StoreUnavailableError('the store is closed');
    let leased: Lease;
    try {
      leased = await lease(pool);
    } catch (error) {
      throw this.unavailable(error);
    }
    const { client } = leased;
    const query_timeout = mode.clientMs;
    try {
      await client.query({ text: `BEGIN${mode.readOnly ? ' READ ONLY' : ''}; SET LOCAL statement_timeout = ${mode.serverMs}`, query_timeout } as pg.QueryConfig);
      const result = await client.query({ ...statement, query_timeout } as pg.QueryConfig);
      await client.query({ text: 'COMMIT', query_timeout } as pg.QueryConfig);
      return result;
    } catch (error) {
      // Closed rather than reused: it may still be inside the failed transaction, or not answering.
      leased.broken = true;
      throw this.unavailable(error, mode.readOnly);
    } finally {
      leased.release();
    }
  }

  private async insert(rows: Row[]): Promise<void> {
    const columns: unknown[][] = Array.from({ length: 12 }, () => new Array(rows.length));
    let lastMs = Number.NaN;
    let lastIso = '';
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      for (let c = 0; c < 12; c++) columns[c]![i] = row[c];
      if (row[7] !== lastMs) {
        lastMs = row[7];
        lastIso = new Date(lastMs).toISOString(); // one per request, not one per lead
      }
      columns[7]![i] = lastIso;
    }
    await this.writePool.query({ name: 'leadscore-insert-scores', text: INSERT_SCORES, values: columns, query_timeout: this.answerTimeoutMs } as pg.QueryConfig);
  }

  /** One statement for the whole group; if it fails for a reason of its own data, each batch again alone, so only the bad one fails. */
  private async writeGroup(batches: Row[][]): Promise<(Error | null)[]> {
    try {
      await this.insert(batches.length === 1 ? batches[0]! : batches.flat());
      return batches.map(() => null);
    } catch (error) {
      if (isUnavailable(error)) throw this.unavailable(error);
      if (batches.length === 1) return [error as Error];
    }
    const results: (Error | null)[] = [];
    for (const batch of batches) {
      try {
        await this.insert(batch);
        results.push(null);
      } catch (error) {
        results.push(this.unavailable(error));
      }
    }
    return results;
  }

  recordScores(batch: ScoreBatch): Promise<void> {
    if (batch.leads.length === 0) return Promise.resolve();
    let rows: Row[];
    try {
      rows = prepareBatch(batch, batch.scored_at.getTime());
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return this.queue.push(rows, rows.length);
  }

  async recordOutcomes(outcomes: readonly Outcome[]): Promise<OutcomeReceipt> {
    if (this.closed) throw new StoreUnavailableError('the store is closed');
    const unique = uniqueOutcomes(outcomes);
    const result = await this.transaction(
      this.upkeepPool,
      { readOnly: false, serverMs: this.answerTimeoutMs, clientMs: this.answerTimeoutMs },
      { text: UPSERT_OUTCOMES, values: [unique.map((o) => o.mql_id), unique.map((o) => o.won_date), unique.map((o) => o.converted), new Date(this.now()).toISOString()], rowMode: 'array' },
    );
    const [updated, scoredIds] = result.rows[0] as [number, string[]];
    const scored = new Set(scoredIds);
    return receipt(outcomes, new Map(unique.map((o) => [o.mql_id, scored.has(o.mql_id)])), updated);
  }

  private cutoff(): string {
    return q.horizonCutoff(this.now(), this.horizonDays);
  }

  async listPredictions(filter: PredictionFilter, page: { limit?: number; cursor?: string | null } = {}): Promise<PredictionPage> {
    const limit = q.checkLimit(page.limit);
    const after = page.cursor ? q.decodeCursor(page.cursor) : null;
    const rows = await this.rows(q.predictionsQuery(dialect, filter, this.cutoff(), after, limit + 1));
    const more = rows.length > limit;
    if (more) rows.length = limit;
    return { predictions: rows.map(q.predictionMapper()), next_cursor: more ? q.encodeCursor(rows[rows.length - 1]!) : null };
  }

  async *exportPredictions(filter: PredictionFilter, options: { chunkSize?: number; cursor?: string | null } = {}): AsyncGenerator<Prediction[]> {
    if (this.closed) throw new StoreUnavailableError('the store is closed');
    const chunkSize = options.chunkSize ?? 1000;
    const sql = q.predictionsQuery(dialect, filter, this.cutoff(), options.cursor ? q.decodeCursor(options.cursor) : null, null);
    const toPrediction = q.predictionMapper();
    let leased: Lease;
    try {
      leased = await lease(this.exportPool);
    } catch (error) {
      throw this.unavailable(error);
    }
    // A server-side cursor: the rows come `chunkSize` at a time, however many match.
    const cursor = leased.client.query(new this.Cursor(q.numberPlaceholders(sql.text), sql.params, { rowMode: 'array', types: (this.readPool.options as { types?: unknown }).types as never }));
    /** One step of the cursor, given up on if the server neither answers nor cancels it in time. */
    const timed = async <T>(step: Promise<T>, what: string): Promise<T> => {
      let timer: NodeJS.Timeout | undefined;
      const deadline = this.readDeadlineMs;
      try {
        return await Promise.race([step, new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`no answer to ${what} within ${deadline} ms (Query read timeout)`)), deadline)))]);
      } finally {
        clearTimeout(timer);
      }
    };
    try {
      for (;;) {
        let rows: unknown[][];
        try {
          rows = (await timed(cursor.read(chunkSize), "the export's next rows")) as unknown[][];
        } catch (error) {
          leased.broken = true;
          throw this.unavailable(error);
        }
        if (rows.length === 0) break;
        yield rows.map(toPrediction);
      }
    } finally {
      // A connection that failed (or stopped answering) is not asked to close its cursor: it is closed itself.
      if (!leased.broken) await timed(cursor.close(), "closing the export's cursor").catch(() => (leased.broken = true));
      leased.release();
    }
  }

  async getLead(mqlId: string): Promise<LeadHistory | null> {
    const [scores, outcomes] = await Promise.all([this.rows(q.leadScoresQuery(dialect, mqlId)), this.rows(q.leadOutcomeQuery(dialect, mqlId))]);
    if (scores.length === 0) return null;
    const [current, ...history] = scores.map(q.toScoreEntry);
    return { mql_id: mqlId, current: current!, history, outcome: q.leadOutcome(outcomes[0], current!.first_contact_date, this.cutoff()) };
  }

  async summarize(filter: PredictionFilter, interval: SummaryInterval): Promise<SummaryBucket[]> {
    return q.foldSummary(await this.rows(q.summaryQuery(dialect, filter, this.cutoff())), interval);
  }

  async labelledScores(filter: Pick<PredictionFilter, 'since' | 'until' | 'model_version'>): Promise<LabelledScores> {
    return q.toLabelledScores(await this.rows(q.labelledScoresQuery(dialect, filter, this.cutoff())));
  }

  async scorePairs(filter: PairFilter): Promise<ScorePairs> {
    return q.toScorePairs(await this.rows(q.scorePairsQuery(dialect, filter, this.cutoff())));
  }

  async driftCounts(window: DriftWindow): Promise<DriftCounts> {
    return q.foldDrift(await this.rows(q.driftQuery(dialect, window)), (window.score_edges?.length ?? 0) + 1);
  }

  async labelledLeads(filter: TrainingFilter = {}): Promise<LabelledLead[]> {
    return (await this.rows(q.labelledLeadsQuery(dialect, filter, this.cutoff()))).map(q.toLabelledLead);
  }

  async deleteScoresBefore(cutoff: Date, options: { batchSize?: number } = {}): Promise<number> {
    const batchSize = options.batchSize ?? 1000;
    // SKIP LOCKED: replicas running retention at the same time take different rows instead of waiting on each other.
    const steps = [
      'DELETE FROM scores WHERE id IN (SELECT id FROM scores WHERE scored_at < ?::timestamptz ORDER BY scored_at LIMIT ? FOR UPDATE SKIP LOCKED)',
      'DELETE FROM outcomes WHERE mql_id IN (SELECT o.mql_id FROM outcomes o WHERE o.received_at < ?::timestamptz AND NOT EXISTS (SELECT 1 FROM scores s WHERE s.mql_id = o.mql_id) LIMIT ? FOR UPDATE SKIP LOCKED)',
    ];
    let deleted = 0;
    for (const [step, text] of steps.entries()) {
      for (;;) {
        // A batch stuck behind a lock ends at the read limit, and the next sweep tries again.
        const changes = (await this.transaction(this.upkeepPool, { readOnly: false, serverMs: this.readTimeoutMs, clientMs: this.readDeadlineMs }, { text: q.numberPlaceholders(text), values: [cutoff.toISOString(), batchSize] })).rowCount ?? 0;
        if (step === 0) deleted += changes;
        if (changes < batchSize) break;
      }
    }
    return deleted;
  }

  async health(): Promise<StoreHealth> {
    const started = performance.now();
    try {
      if (this.closed) throw new StoreUnavailableError('the store is closed');
      await this.writePool.query({ text: 'INSERT INTO store_heartbeat (id, beat_at) VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at', query_timeout: this.answerTimeoutMs } as pg.QueryConfig);
      return { status: 'up', backend: 'postgres', latency_ms: performance.now() - started };
    } catch (error) {
      return { status: 'down', backend: 'postgres', latency_ms: performance.now() - started, message: this.unavailable(error).message };
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue.close();
    this.closed = true;
    await Promise.all(this.pools().map((pool) => pool.end()));
  }
}

export async function openPostgresStore(url: string, options: StoreOptions): Promise<PostgresStore> {
  return new PostgresStore(url, pg, Cursor, options).open();
}

// The embedded store: one SQLite file in WAL mode through better-sqlite3 (synchronous, in-process).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { LabelledLead } from '../features/lead.js';
import { StoreConfigError, StoreUnavailableError } from './errors.js';
import { pendingMigrations } from './migrations/index.js';
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
import { prepareBatch, receipt, uniqueOutcomes, type Row } from './records.js';
import { WriteQueue } from './write-queue.js';
import { Checkpointer } from './checkpointer.js';
import { SqliteReader } from './sqlite-reader.js';
import { Slots } from './slots.js';

const dialect: q.Dialect = {
  name: 'sqlite',
  time: (ms) => ({ placeholder: '?', value: ms }),
  scoredAtMs: 's.scored_at',
  scoredDay: "strftime('%Y-%m-%d', s.scored_at / 1000, 'unixepoch')",
  // Kept by the writer: SQLite has one writer at a time, so marking the lead's previous score in the
  // same transaction can never race. Reading a flag instead of probing for a newer score per row
  // doubled the export (142,000 → 283,000 rows/s before mapping, under the same load).
  current: 's.is_current = 1',
};

/*
 * The current score is always the lead's newest row (a new row's id is above every id in the
 * table), so only that row is looked at: matching on `mql_id AND is_current` read every earlier
 * score of the lead, and a lead rescored daily made each write slower than the last. With 1,000
 * leads rescored 300 times, a batch of their 1,000 writes took 11 → 115 ms that way, 3–11 ms this way.
 */
// One statement for a whole batch (its mql_ids as a JSON array) rather than one per lead: on a
// store of 200,000 scores, 1,000-lead batches side by side took 15.2–16.3 µs of CPU per lead
// against 17.0–18.1 (0.89×). Most of the rest is the random-key mql_id index: each new key dirties
// a page of its own, written to the WAL at commit (the table and the scored_at index alone: ~3 µs).
const SUPERSEDE =
  'UPDATE scores SET is_current = 0 WHERE id IN (SELECT (SELECT max(id) FROM scores WHERE mql_id = lead.value) FROM json_each(?) AS lead) AND is_current = 1';
/**
 * Scores one drift query reads at most (but for scores of a single millisecond). Slices were first
 * cut for the event loop, when reads ran on it: a /metrics scrape arriving during a count waited
 * for the slice in progress, and in a store of a million scores (npm run bench) 20,000 a slice held
 * a scrape up to 170 ms, 5,000 a median of 58 ms (a slice took ~11 ms); 1,000 keeps a slice near
 * 2 ms. On the reader thread they do the same for the other reads: a dashboard's page waits for
 * one slice, not for the whole count.
 */
const DRIFT_SLICE_ROWS = 1_000;
/**
 * Scores written between two checkpoints from the checkpoint thread (see Checkpointer), the writer's
 * own automatic checkpoint in WAL pages (~40 MB of log), and the writing connection's page cache in
 * KiB (see connect()).
 */
const CHECKPOINT_ROWS = 3_000;
/**
 * Exports running at once, each on a thread of its own (some 45 MB at its peak, exporting 500,000
 * scores); more wait up to EXPORT_WAIT_MS for one to finish, then answer 503. A hundred clients
 * that asked for an export and stopped reading held a hundred threads and 2.5 GB. Finished exports
 * leave up to EXPORT_THREADS_KEPT threads for the next.
 */
const EXPORTS_AT_ONCE = 3;
const EXPORT_WAIT_MS = 5_000;
const EXPORT_THREADS_KEPT = 2;
const CHECKPOINT_PAGES = 10_000;
const CACHE_KIB = 32 * 1024;
const INSERT_SCORE =
  'INSERT INTO scores (mql_id, first_contact_date, landing_page_id, origin, probability, tier, model_version, scored_at, request_id, challenger_version, challenger_probability, challenger_tier, is_current) ' +
  'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
const UPSERT_OUTCOME =
  'INSERT INTO outcomes (mql_id, won_date, converted, received_at) VALUES (?, ?, ?, ?) ' +
  'ON CONFLICT (mql_id) DO UPDATE SET won_date = excluded.won_date, converted = excluded.converted, received_at = excluded.received_at ' +
  'WHERE outcomes.won_date IS DISTINCT FROM excluded.won_date OR outcomes.converted <> excluded.converted';

/**
 * Waiting for another connection's write lock (another worker's, a tool's): better-sqlite3 waits
 * inside the call, holding the event loop, so each attempt waits at most LOCK_ATTEMPT_MS (SQLite
 * sleeps 1, 2, 5 and 10 ms in it) and the event loop runs between attempts, until LOCK_WAIT_MS in
 * all make it a 503. With SQLite's busy timeout at 5 s instead, a lock held by another process
 * froze the whole process: /health/live answered after 9.7 s, long enough for a liveness probe
 * to restart a healthy pod.
 */
const LOCK_ATTEMPT_MS = 20;
const LOCK_WAIT_MS = 5000;
const BUSY = /^SQLITE_BUSY/;

/** Errors that mean the file cannot be written now (read-only, full disk, locked, I/O): 503, and the store recovers. */
const UNAVAILABLE = /^SQLITE_(READONLY|FULL|IOERR|BUSY|LOCKED|CANTOPEN|CORRUPT|NOTADB|PROTOCOL|NOMEM|PERM|AUTH)/;
/** Of those, the ones a connection keeps once it has them (opened read-only, file gone): open a new one next time. */
const REOPEN = /^SQLITE_(READONLY|IOERR|CANTOPEN|CORRUPT|NOTADB)/;

interface Connection {
  db: Database.Database;
  upsertOutcome: Database.Statement;
  scored: Database.Statement;
  heartbeat: Database.Statement;
  /** Writes several batches at once, each all or nothing. */
  writeBatches: (batches: Row[][]) => (Error | null)[];
}

export class SqliteStore implements Store {
  readonly backend = 'sqlite' as const;
  readonly description: string;
  private connection: Connection | null = null;
  private closed = false;
  private readonly horizonDays: number;
  private readonly now: () => number;
  /** Checkpoints off the thread that answers requests: on a 1,000-lead batch's time, see Checkpointer. */
  readonly checkpointer: Checkpointer;
  /** Pages, summaries, live quality, drift counts and training reads, off the thread that answers requests: see SqliteReader. */
  readonly reader: SqliteReader;
  /** Export threads between exports, and those of the exports running (see slices()). */
  private readonly exportReaders: SqliteReader[] = [];
  private readonly exporting = new Set<SqliteReader>();
  private readonly exportSlots: Slots;
  /** The close under way, once close() is called: nothing started after it keeps a thread. */
  private closing: Promise<void> | undefined;
  private rowsSinceCheckpoint = 0;
  /*
   * Single-lead records (npm run bench:store, three runs on a shared 2-core machine): one
   * transaction per record ran 3,800–15,200 records/s (a WAL commit writes every page it
   * touched); grouping the records of one event-loop turn into one transaction ran
   * 13,900–37,300/s with 8 concurrent writers and 28,900–46,400/s with 64.
   */
  private readonly queue = new WriteQueue<Row[]>(async (batches) => this.writeGroup(batches), { maxInFlight: 1, maxSize: 50_000 });

  constructor(
    private readonly file: string,
    private readonly synchronous: 'normal' | 'full',
    options: StoreOptions,
    /** The checkpoint settings and the page cache in KiB (see connect()): settings for measuring and testing them. */
    private readonly tuning: SqliteTuning = {},
  ) {
    this.description = `sqlite:${file}`;
    this.checkpointer = new Checkpointer(file, synchronous);
    this.reader = new SqliteReader(file);
    this.exportSlots = new Slots(EXPORTS_AT_ONCE, tuning.exportWaitMs ?? EXPORT_WAIT_MS, () => `${EXPORTS_AT_ONCE} exports are running; try again shortly`);
    this.horizonDays = options.outcomeHorizonDays ?? 180;
    this.now = options.now ?? Date.now;
  }

  /** Opens (creating the file and its folder) and migrates; throws StoreUnavailableError when it cannot. */
  open(): this {
    this.connect();
    return this;
  }

  private connect(): Connection {
    if (this.closed) throw new StoreUnavailableError('the store is closed');
    if (this.connection) return this.connection;
    let db: Database.Database | undefined;
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      db = new Database(this.file, { timeout: 5000 });
      db.pragma('journal_mode = WAL');
      // NORMAL in WAL mode: a commit survives the process being killed at any point; only a power
      // loss can take the last commits before a checkpoint. FULL fsyncs every commit.
      db.pragma(`synchronous = ${this.synchronous.toUpperCase()}`);
      // A checkpoint copies the WAL back into the file and syncs it. Each score adds a key at a
      // random place in the mql_id index, so a batch of 1,000 dirties ~1,000 pages, and with
      // SQLite's default limit (1,000 pages) nearly every batch paid for a checkpoint. In a store of
      // a million scores a 1,000-lead batch took 68 ms that way (median), 32 ms checkpointing every
      // 10,000 pages (40 MB of WAL), 0.71× the mean time with the checkpoint's own ~200 ms once in
      // about ten batches (npx tsx scripts/bench/sqlite-checkpoint.ts). A thread of their own now
      // copies the log every CHECKPOINT_ROWS scores, but its checkpoints are passive: while the
      // writer keeps appending, one never reaches the log's end, and the log can only start over
      // after one has. So the writer still checkpoints at 10,000 pages, copying only what the thread
      // has not (with its own bound at 40,000 instead, the log grew to 170 MB under steady batches).
      db.pragma(`wal_autocheckpoint = ${this.tuning.checkpointPages ?? CHECKPOINT_PAGES}`);
      // The WAL is truncated back to this after a checkpoint instead of keeping its largest size.
      db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
      // Page cache of the writing connection: 32 MB instead of SQLite's 2 MB. A new score lands on a
      // random leaf of the mql_id index, and once the index outgrows the cache most inserts read
      // their page back from the OS. In a store of a million scores, 1,000-lead batches took 0.91×
      // the CPU (39.7 vs 43.8 ms) and 0.89× the mean time (npx tsx scripts/bench/sqlite-checkpoint.ts).
      // The cache fills only as pages are used: a small store's process stays as small as it was.
      db.pragma(`cache_size = ${-(this.tuning.cacheKib ?? CACHE_KIB)}`);
      migrate(db); // at start-up, waiting up to the open's 5 s for another worker's migration
      db.pragma(`busy_timeout = ${LOCK_ATTEMPT_MS}`);
      const insertScore = db.prepare(INSERT_SCORE);
      const supersede = db.prepare(SUPERSEDE);
      const writeRows = (rows: Row[]): void => {
        supersede.run(JSON.stringify(rows.map((row) => row[0])));
        // A lead named twice in one batch: its last score is the current one.
        const seen = new Set<unknown>();
        const current = new Array<number>(rows.length);
        for (let i = rows.length - 1; i >= 0; i--) {
          current[i] = seen.has(rows[i]![0]) ? 0 : 1;
          seen.add(rows[i]![0]);
        }
        for (let i = 0; i < rows.length; i++) insertScore.run(rows[i]!, current[i]);
      };
      // The whole group goes in as one batch, in a transaction of its own and no savepoint: SQLite
      // keeps a copy of every page a savepoint changes (in a temporary file past 64 KiB), and a
      // batch of 10,000 new leads changes some thousands. Only if that fails for a reason of its
      // own data does each batch go again alone, in a savepoint (better-sqlite3 runs a transaction
      // called inside another as one), so only the bad batch fails.
      const writeAll = db.transaction((batches: Row[][]) => writeRows(batches.length === 1 ? batches[0]! : batches.flat()));
      const writeOne = db.transaction(writeRows);
      const writeEach = db.transaction((batches: Row[][]) =>
        batches.map((rows) => {
          try {
            writeOne(rows);
            return null;
          } catch (error) {
            if (isUnavailable(error)) throw error; // the file itself: all of them fail
            return error as Error;
          }
        }),
      );
      // IMMEDIATE: take the write lock before reading anything, so another process's commit cannot
      // invalidate this transaction's snapshot halfway (busy_timeout waits for the lock instead).
      const writeBatches = (batches: Row[][]): (Error | null)[] => {
        try {
          writeAll.immediate(batches);
          return batches.map(() => null);
        } catch (error) {
          if (isUnavailable(error)) throw error;
          if (batches.length === 1) return [error as Error];
        }
        return writeEach.immediate(batches);
      };
      this.connection = {
        db,
        upsertOutcome: db.prepare(UPSERT_OUTCOME),
        scored: db.prepare('SELECT 1 FROM scores WHERE mql_id = ? LIMIT 1').pluck(),
        heartbeat: db.prepare('INSERT INTO store_heartbeat (id, beat_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at'),
        writeBatches,
      };
      return this.connection;
    } catch (error) {
      db?.close();
      if (error instanceof RangeError) throw new StoreConfigError(`${this.description}: ${error.message}`, { cause: error });
      throw this.unavailable(error);
    }
  }

  /** Maps an SQLite error to StoreUnavailableError when it is about the file, dropping a connection that cannot recover. */
  private unavailable(error: unknown): Error {
    if (error instanceof StoreUnavailableError) return error;
    const code = (error as { code?: unknown }).code;
    const systemError = typeof code === 'string' && /^E[A-Z]+$/.test(code); // mkdir: EACCES, EROFS, ENOSPC
    if (!systemError && !isUnavailable(error)) return error as Error;
    if (systemError || REOPEN.test(String(code))) {
      const connection = this.connection;
      this.connection = null;
      try {
        connection?.db.close();
      } catch {
        // already unusable
      }
    }
    return new StoreUnavailableError(`the store (${this.description}) cannot be written: ${(error as Error).message}`, { cause: error, retryAfterSeconds: 5 });
  }

  /** The writes waiting their turn: one at a time, so a lock held elsewhere costs the event loop one attempt per turn, not one per waiting write. */
  private writes: Promise<unknown> = Promise.resolve();

  /**
   * Runs work that takes the write lock, attempt after attempt while another connection holds it
   * (see LOCK_ATTEMPT_MS). Writes take turns: with each retrying on its own, 40 waiting writes
   * blocked the event loop 20 ms each per turn and /health/live answered after 2.3 s. Each write's
   * wait counts from its call, so one queued behind others still gets its 503 within LOCK_WAIT_MS.
   */
  private write<T>(work: (connection: Connection) => T): Promise<T> {
    const deadline = performance.now() + (this.tuning.lockWaitMs ?? LOCK_WAIT_MS);
    const turn = this.writes.then(() => this.attempt(work, deadline));
    this.writes = turn.catch(() => undefined);
    return turn;
  }

  private async attempt<T>(work: (connection: Connection) => T, deadline: number): Promise<T> {
    for (;;) {
      try {
        return work(this.connect());
      } catch (error) {
        if (!BUSY.test(String((error as { code?: unknown }).code)) || performance.now() >= deadline) throw this.unavailable(error);
      }
      // The next turn of the event loop, after its I/O: with a timer, two writers waiting at once
      // kept each other's timers due, and the timers phase never ended (no turn in 5 s).
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private async writeGroup(batches: Row[][]): Promise<(Error | null)[]> {
    const results = await this.write((connection) => connection.writeBatches(batches));
    for (let i = 0; i < batches.length; i++) if (results[i] === null) this.rowsSinceCheckpoint += batches[i]!.length;
    if (this.rowsSinceCheckpoint >= (this.tuning.checkpointRows ?? CHECKPOINT_ROWS) && this.checkpointer.request()) this.rowsSinceCheckpoint = 0;
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
    const now = this.now();
    return this.write(({ db, upsertOutcome, scored }) =>
      db.transaction(() => {
        let updated = 0;
        for (const outcome of uniqueOutcomes(outcomes)) updated += upsertOutcome.run(outcome.mql_id, outcome.won_date, outcome.converted ? 1 : 0, now).changes;
        const matched = new Map<string, boolean>();
        for (const { mql_id } of outcomes) if (!matched.has(mql_id)) matched.set(mql_id, scored.get(mql_id) !== undefined);
        return receipt(outcomes, matched, updated);
      })(),
    );
  }

  private cutoff(): string {
    return q.horizonCutoff(this.now(), this.horizonDays);
  }

  /**
   * One read on the reader thread. The file is opened (created and migrated) here first, as the
   * writer needs it; the reader's errors leave the writer's connection as it is.
   */
  private async all(sql: q.Sql): Promise<unknown[][]> {
    this.connect();
    try {
      return await this.reader.all(sql.text, sql.params);
    } catch (error) {
      throw this.unreadable(error);
    }
  }

  private unreadable(error: unknown): Error {
    if (error instanceof StoreUnavailableError || !isUnavailable(error)) return error as Error;
    return new StoreUnavailableError(`the store (${this.description}) cannot be read: ${(error as Error).message}`, { cause: error, retryAfterSeconds: 5 });
  }

  async listPredictions(filter: PredictionFilter, page: { limit?: number; cursor?: string | null } = {}): Promise<PredictionPage> {
    const limit = q.checkLimit(page.limit);
    const after = page.cursor ? q.decodeCursor(page.cursor) : null;
    const rows = await this.all(q.predictionsQuery(dialect, filter, this.cutoff(), after, limit + 1));
    const more = rows.length > limit;
    if (more) rows.length = limit;
    return { predictions: rows.map(q.predictionMapper()), next_cursor: more ? q.encodeCursor(rows[rows.length - 1]!) : null };
  }

  async *exportPredictions(filter: PredictionFilter, options: { chunkSize?: number; cursor?: string | null } = {}): AsyncGenerator<Prediction[]> {
    const toPrediction = q.predictionMapper();
    const after = options.cursor ? q.decodeCursor(options.cursor) : null;
    for await (const rows of this.slices(q.predictionsQuery(dialect, filter, this.cutoff(), after, null), options.chunkSize ?? 1000)) yield rows.map(toPrediction);
  }

  /**
   * An export's rows, `size` at a time, from a reader thread of its own: a filtered export may scan
   * most of the table between two chunks (in a store of a million scores, an export of its
   * converted leads held the event loop for 0.55 s, on its thread), and a shared reader would make
   * every other read wait for a client that downloads slowly. Rows are read only as fast as the
   * export's client takes them. A thread took ~70 ms to start, so finished exports leave theirs
   * for the next (EXPORT_THREADS_KEPT at most).
   */
  private async *slices(sql: q.Sql, size: number): AsyncGenerator<unknown[][]> {
    this.connect();
    const release = await this.exportSlots.take();
    if (this.closing !== undefined) {
      release();
      throw new StoreUnavailableError('the store is closed');
    }
    const reader = this.exportReaders.pop() ?? new SqliteReader(this.file);
    this.exporting.add(reader);
    try {
      yield* reader.slices(sql.text, sql.params, size);
    } catch (error) {
      throw this.unreadable(error);
    } finally {
      this.exporting.delete(reader);
      release();
      if (this.closing === undefined && this.exportReaders.length < EXPORT_THREADS_KEPT) this.exportReaders.push(reader);
      else await reader.close();
    }
  }

  /** Every row of a long read, in slices from the reader thread, so that neither thread builds one huge message. */
  private async collect(sql: q.Sql): Promise<unknown[][]> {
    this.connect();
    const rows: unknown[][] = [];
    try {
      await this.reader.each(sql.text, sql.params, 5000, (slice) => {
        for (const row of slice) rows.push(row);
      });
    } catch (error) {
      throw this.unreadable(error);
    }
    return rows;
  }

  async getLead(mqlId: string): Promise<LeadHistory | null> {
    const scores = await this.all(q.leadScoresQuery(dialect, mqlId));
    if (scores.length === 0) return null;
    const outcome = (await this.all(q.leadOutcomeQuery(dialect, mqlId)))[0];
    const [current, ...history] = scores.map(q.toScoreEntry);
    return { mql_id: mqlId, current: current!, history, outcome: q.leadOutcome(outcome, current!.first_contact_date, this.cutoff()) };
  }

  async summarize(filter: PredictionFilter, interval: SummaryInterval): Promise<SummaryBucket[]> {
    return q.foldSummary(await this.all(q.summaryQuery(dialect, filter, this.cutoff())), interval);
  }

  async labelledScores(filter: Pick<PredictionFilter, 'since' | 'until' | 'model_version'>): Promise<LabelledScores> {
    return q.toLabelledScores(await this.collect(q.labelledScoresQuery(dialect, filter, this.cutoff())));
  }

  async scorePairs(filter: PairFilter): Promise<ScorePairs> {
    return q.toScorePairs(await this.collect(q.scorePairsQuery(dialect, filter, this.cutoff())));
  }

  /**
   * A time window is counted DRIFT_SLICE_ROWS scores at a time, so that other reads get the reader
   * thread in between: the monitoring refresh counts a day of scores every minute, and in one query
   * a day of a million scores took 2–2.5 s (npm run bench; on the event loop, as reads once ran, long
   * enough for load shedding to refuse the requests queued behind it).
   */
  async driftCounts(window: DriftWindow): Promise<DriftCounts> {
    const bins = (window.score_edges?.length ?? 0) + 1;
    if (!window.since || window.last !== undefined) return q.foldDrift(await this.all(q.driftQuery(dialect, window)), bins);
    const rows: unknown[][] = [];
    const until = window.until?.getTime();
    for (let from = window.since.getTime(); ; ) {
      // Found on the (scored_at) index alone; a slice ends where the next DRIFT_SLICE_ROWS scores do, and the last one is open-ended.
      const boundary = new q.Sql(dialect).add('SELECT scored_at FROM scores WHERE scored_at >= ').time(from);
      if (until !== undefined) boundary.add(' AND scored_at < ').time(until);
      const next = (await this.all(boundary.add(' ORDER BY scored_at LIMIT 1 OFFSET ?', DRIFT_SLICE_ROWS)))[0]?.[0] as number | undefined;
      // Scores recorded in the same millisecond stay in one slice, so each slice moves forward.
      const to = next === undefined ? undefined : Math.max(next, from + 1);
      for (const row of await this.all(q.driftQuery(dialect, { ...window, since: new Date(from), until: to === undefined ? window.until : new Date(to) }))) rows.push(row);
      if (to === undefined) break;
      from = to;
    }
    return q.foldDrift(rows, bins);
  }

  async labelledLeads(filter: TrainingFilter = {}): Promise<LabelledLead[]> {
    return (await this.collect(q.labelledLeadsQuery(dialect, filter, this.cutoff()))).map(q.toLabelledLead);
  }

  async deleteScoresBefore(cutoff: Date, options: { batchSize?: number } = {}): Promise<number> {
    const batchSize = options.batchSize ?? 1000;
    let deleted = 0;
    const steps = [
      'DELETE FROM scores WHERE id IN (SELECT id FROM scores WHERE scored_at < ? ORDER BY scored_at LIMIT ?)',
      'DELETE FROM outcomes WHERE mql_id IN (SELECT o.mql_id FROM outcomes o WHERE o.received_at < ? AND NOT EXISTS (SELECT 1 FROM scores s WHERE s.mql_id = o.mql_id) LIMIT ?)',
    ];
    for (const [step, text] of steps.entries()) {
      for (;;) {
        const changes = await this.write(({ db }) => db.prepare(text).run(cutoff.getTime(), batchSize).changes);
        if (step === 0) deleted += changes;
        if (changes < batchSize) break;
        await new Promise((resolve) => setImmediate(resolve)); // let queued writes and requests in between
      }
    }
    return deleted;
  }

  async health(): Promise<StoreHealth> {
    const started = performance.now();
    try {
      await this.write(({ heartbeat }) => heartbeat.run(this.now()));
      return { status: 'up', backend: 'sqlite', latency_ms: performance.now() - started };
    } catch (error) {
      return { status: 'down', backend: 'sqlite', latency_ms: performance.now() - started, message: (error as Error).message };
    }
  }

  /** Closes once; a second call waits for the first to finish. */
  close(): Promise<void> {
    this.closing ??= this.shut();
    return this.closing;
  }

  private async shut(): Promise<void> {
    await this.queue.close();
    // Running exports too: one whose client stopped reading would hold its thread, and the process, for good.
    await Promise.all([this.reader, ...this.exportReaders.splice(0), ...this.exporting].map((reader) => reader.close()));
    await this.checkpointer.close(); // their connections first: the last one to close checkpoints the rest
    this.closed = true;
    this.connection?.db.close();
    this.connection = null;
  }
}

function isUnavailable(error: unknown): boolean {
  return UNAVAILABLE.test(String((error as { code?: unknown }).code));
}

/** Applies pending migrations; reads first, so a read-only file that is up to date still opens. */
function migrate(db: Database.Database): void {
  const applied = () =>
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'store_migrations'").get()
      ? (db.prepare('SELECT version FROM store_migrations').pluck().all() as number[])
      : [];
  if (pendingMigrations(applied()).length === 0) return;
  // IMMEDIATE takes the write lock first, so two processes starting at once apply each migration once.
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec('CREATE TABLE IF NOT EXISTS store_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT');
    const record = db.prepare('INSERT INTO store_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const migration of pendingMigrations(applied())) {
      db.exec(migration.sqlite);
      record.run(migration.version, migration.name, Date.now());
    }
    db.exec('COMMIT');
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

export interface SqliteTuning {
  /** Scores between checkpoints from the checkpoint thread, the writer's own automatic checkpoint in pages, the page cache in KiB. */
  checkpointRows?: number;
  checkpointPages?: number;
  cacheKib?: number;
  /** How long a write waits in all for another connection's write lock before it is a 503 (LOCK_WAIT_MS). */
  lockWaitMs?: number;
  /** How long an export waits for one of the EXPORTS_AT_ONCE to finish before it is a 503 (EXPORT_WAIT_MS). */
  exportWaitMs?: number;
}

export function openSqliteStore(file: string, synchronous: 'normal' | 'full', options: StoreOptions, tuning?: SqliteTuning): SqliteStore {
  return new SqliteStore(file, synchronous, options, tuning).open();
}

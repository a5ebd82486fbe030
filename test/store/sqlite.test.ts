// The store contract on SQLite files, and what only the embedded store does: creating its file, WAL, recovering a file it could not write.
import { execFile, fork } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testChild } from '../setup/children.js';
import { openStore, StoreConfigError, StoreUnavailableError, type Store, type StoreOptions } from '../../src/store/index.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { SqliteReader } from '../../src/store/sqlite-reader.js';
import { lead, storeContract } from './contract.js';

const run = promisify(execFile);
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'leadscore-store-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const openSqlite = async (file: string, options: StoreOptions = {}) => (await openStore({ kind: 'sqlite', path: file, synchronous: 'normal' }, options))!;

storeContract('SQLite', async () => {
  const file = path.join(tempDir(), 'store.db');
  return { open: (options) => openSqlite(file, options), cleanup: async () => undefined };
});

describe('SQLite store', () => {
  let dir: string;
  let store: Store | undefined;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  it('creates its file and folders on first open, in WAL mode, with the schema recorded', async () => {
    const file = path.join(dir, 'nested', 'deeper', 'leadscore.db');
    store = await openSqlite(file);
    expect(existsSync(file)).toBe(true);
    expect(store.description).toBe(`sqlite:${file}`);
    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.prepare('SELECT version, name FROM store_migrations').all()).toEqual([{ version: 1, name: 'scores and outcomes' }]);
    db.close();
  });

  it('refuses a database whose schema is newer than this build', async () => {
    const file = path.join(dir, 'future.db');
    await (await openSqlite(file)).close();
    const db = new Database(file);
    db.prepare("INSERT INTO store_migrations (version, name, applied_at) VALUES (99, 'from the future', 0)").run();
    db.close();
    await expect(openSqlite(file)).rejects.toThrow(StoreConfigError);
    await expect(openSqlite(file)).rejects.toThrow(/version 99, newer than this build knows/);
  });

  it('says the store is unavailable when its folder cannot be created', async () => {
    writeFileSync(path.join(dir, 'a-file'), ''); // a folder cannot be made inside a file, not even by root
    await expect(openSqlite(path.join(dir, 'a-file', 'data', 'store.db'))).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('turns a full disk into StoreUnavailableError with nothing half-written, and writes again once there is room', async () => {
    const file = path.join(dir, 'full.db');
    store = await openSqlite(file);
    await store.recordScores({ request_id: 'r0', scored_at: new Date(), model_version: 'm', leads: [lead(0)] });
    // The real SQLite error a full disk gives, without filling a disk: cap the file at its current size.
    const db = (store as unknown as { connection: { db: Database.Database } }).connection.db;
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);
    const many = Array.from({ length: 2000 }, (_, i) => lead(i + 1));
    const failed = store.recordScores({ request_id: 'r1', scored_at: new Date(), model_version: 'm', leads: many });
    await expect(failed).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(failed).rejects.toMatchObject({ retryAfterSeconds: 5 });
    expect((await store.listPredictions({}, { limit: 1000 })).predictions).toHaveLength(1);
    db.pragma('max_page_count = 4294967294');
    await store.recordScores({ request_id: 'r2', scored_at: new Date(), model_version: 'm', leads: many });
    expect((await store.driftCounts({ last: 10_000 })).leads).toBe(2001);
  });

  it('opens as the store it was given, whichever way the file was left', async () => {
    const file = path.join(dir, 'reopen.db');
    const first = new SqliteStore(file, 'full', {}).open();
    await first.recordScores({ request_id: 'r', scored_at: new Date(), model_version: 'm', leads: [lead(1)] });
    await first.close();
    store = await openSqlite(file);
    expect((await store.getLead('lead-0001'))!.current.request_id).toBe('r');
  });

  it('reads on a thread of its own: a read answers in a later turn of the event loop, never while the caller still runs', async () => {
    store = await openSqlite(path.join(dir, 'reads.db'));
    await store.recordScores({ request_id: 'r', scored_at: new Date(Date.UTC(2026, 2, 1)), model_version: 'm', leads: [lead(1), lead(2)] });
    const reads: (() => Promise<unknown>)[] = [
      () => store!.listPredictions({}),
      () => store!.summarize({}, 'day'),
      () => store!.getLead('lead-0001'),
      () => store!.labelledScores({}),
    ];
    for (const read of reads) {
      // A read run by the thread that asked for it (better-sqlite3's way) is done when the call
      // returns, and has answered once the microtasks queued behind it have run.
      let answered = false;
      const reading = read().then(() => (answered = true));
      for (let tick = 0; tick < 20; tick++) await null;
      expect(answered).toBe(false);
      await reading;
    }
    expect((await store.listPredictions({})).predictions.map((p) => p.mql_id)).toEqual(['lead-0002', 'lead-0001']); // newest first, the later id on a tie
    expect((store as SqliteStore).reader.queries).toBeGreaterThanOrEqual(reads.length + 1);
  });

  it('fails the reads its reader thread had when the thread dies, and reads on a new one after', async () => {
    const sqlite = (store = await openSqlite(path.join(dir, 'reader.db'))) as SqliteStore;
    await sqlite.recordScores({ request_id: 'r', scored_at: new Date(), model_version: 'm', leads: [lead(1)] });
    await sqlite.listPredictions({});
    const stopped = (sqlite.reader as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    const asked = sqlite.summarize({}, 'day'); // handed to the thread as it stops
    await stopped;
    await expect(asked).rejects.toThrow(new StoreUnavailableError("the store's reader thread stopped: exit code 1"));
    expect((await sqlite.listPredictions({})).predictions).toHaveLength(1);
  });

  it('hands a long read over in slices, in order, stops one whose reader stops, and answers the next query and an error after it', async () => {
    const file = path.join(dir, 'slices.db');
    const db = new Database(file);
    db.exec('CREATE TABLE n (v INTEGER)');
    db.exec('WITH RECURSIVE c(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM c WHERE v < 25) INSERT INTO n SELECT v FROM c');
    const reader = new SqliteReader(file);
    try {
      const slices: number[][] = [];
      await reader.each('SELECT v FROM n ORDER BY v', [], 4, (rows) => slices.push(rows.map((row) => row[0] as number)));
      expect(slices.map((slice) => slice.length)).toEqual([4, 4, 4, 4, 4, 4, 1]);
      expect(slices.flat()).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
      expect(await reader.all('SELECT count(*) FROM n WHERE v > ?', [20])).toEqual([[5]]);
      // A reader that stops after two slices: the thread, paused until they are taken, ends the query there.
      const taken: number[][] = [];
      for await (const rows of reader.slices('SELECT v FROM n ORDER BY v', [], 4)) {
        taken.push(rows.map((row) => row[0] as number));
        if (taken.length === 2) break;
      }
      expect(taken).toEqual([[1, 2, 3, 4], [5, 6, 7, 8]]);
      const paced: number[] = [];
      for await (const rows of reader.slices('SELECT v FROM n WHERE v > ? ORDER BY v', [15], 4)) paced.push(rows.length);
      expect(paced).toEqual([4, 4, 2]);
      await expect(reader.all('SELECT missing FROM n', [])).rejects.toMatchObject({ code: 'SQLITE_ERROR', message: 'no such column: missing' });
    } finally {
      await reader.close();
      db.close();
    }
  });

  it('runs three exports at once: a fourth waits for one to finish, or answers 503 after the wait', async () => {
    const sqlite = (store = new SqliteStore(path.join(dir, 'exports.db'), 'normal', {}, { exportWaitMs: 300 }).open());
    await sqlite.recordScores({ request_id: 'r', scored_at: new Date(), model_version: 'm', leads: Array.from({ length: 10 }, (_, i) => lead(i)) });
    const start = () => sqlite.exportPredictions({}, { chunkSize: 2 })[Symbol.asyncIterator]();
    // Three clients that take a first chunk and stop reading, holding their exports open.
    const paused = [start(), start(), start()];
    for (const exported of paused) expect((await exported.next()).value).toHaveLength(2);
    await expect(start().next()).rejects.toMatchObject({ message: '3 exports are running; try again shortly', advice: '3 exports are running; try again shortly' });
    // One waiting gets the slot the moment an export ends.
    const waiting = start();
    const first = waiting.next();
    await paused[0]!.return(undefined);
    expect((await first).value).toHaveLength(2);
    let rows = 2;
    for (let chunk = await waiting.next(); !chunk.done; chunk = await waiting.next()) rows += chunk.value.length;
    expect(rows).toBe(10);
    for (const exported of paused.slice(1)) await exported.return(undefined);
  });

  it('closes with exports a client stopped reading, which then fail instead of ending as if complete', async () => {
    const sqlite = (store = await openSqlite(path.join(dir, 'closing-exports.db'))) as SqliteStore;
    await sqlite.recordScores({ request_id: 'r', scored_at: new Date(), model_version: 'm', leads: Array.from({ length: 10 }, (_, i) => lead(i)) });
    const exported = sqlite.exportPredictions({}, { chunkSize: 2 })[Symbol.asyncIterator]();
    expect((await exported.next()).value).toHaveLength(2);
    await sqlite.close(); // returns: the paused export's thread was stopped with it
    store = undefined;
    await expect(exported.next()).rejects.toThrow(new StoreUnavailableError('the store was closed during the export'));
  });

  it('counts a long drift window in slices, giving the counts one query would', async () => {
    store = await openSqlite(path.join(dir, 'drift.db'));
    const t0 = Date.UTC(2026, 2, 1);
    // 2,100 scores in one millisecond (more than two slices), then smaller batches spread over a
    // day, so that slices end inside a batch and span several.
    const batches = [
      { at: t0, count: 2_100 },
      ...Array.from({ length: 12 }, (_, i) => ({ at: t0 + (i + 1) * 3_600_000, count: 170 + i * 10 })),
    ];
    let n = 0;
    for (const { at, count } of batches) {
      const leads = Array.from({ length: count }, () => lead(++n, { probability: (n % 100) / 100 }));
      await store.recordScores({ request_id: `r${at}`, scored_at: new Date(at), model_version: 'm', leads });
    }
    const edges = [0.1, 0.5];
    const sliced = await store.driftCounts({ since: new Date(t0), score_edges: edges });
    expect(sliced).toEqual(await store.driftCounts({ last: 1_000_000, score_edges: edges }));
    expect(sliced.leads).toBe(n);
    // A window starting mid-way, and one with an end.
    const fromSixth = await store.driftCounts({ since: new Date(t0 + 6 * 3_600_000), score_edges: edges });
    expect(fromSixth.leads).toBe(batches.slice(6).reduce((total, b) => total + b.count, 0));
    const firstHours = await store.driftCounts({ since: new Date(t0), until: new Date(t0 + 2 * 3_600_000 + 1), score_edges: edges });
    expect(firstHours.leads).toBe(2_100 + 170 + 180);
  });

  it('marks exactly one score per lead current, its newest, however often and in whatever order leads are rescored', async () => {
    const file = path.join(dir, 'rescored.db');
    store = await openSqlite(file);
    const day = (d: number) => new Date(Date.UTC(2026, 0, 1 + d));
    for (let round = 0; round < 12; round++) {
      // Leads 1–5 in a different order each round, some twice in one request; lead 6 only in the first rounds.
      const leads = [1, 2, 3, 4, 5].map((n) => lead(n, { probability: round / 100 })).reverse().slice(round % 3);
      if (round % 4 === 0) leads.push(lead(2, { probability: 0.5 }));
      if (round < 3) leads.push(lead(6, { probability: round / 100 }));
      await store.recordScores({ request_id: `r${round}`, scored_at: day(round), model_version: 'm', leads });
    }
    // Retention takes every row of lead 6, then rescoring it makes a new current row.
    await store.deleteScoresBefore(day(3));
    await store.recordScores({ request_id: 'again', scored_at: day(20), model_version: 'm', leads: [lead(6)] });
    const db = new Database(file, { readonly: true });
    const rows = db.prepare('SELECT mql_id, id, is_current FROM scores ORDER BY mql_id, id').all() as { mql_id: string; id: number; is_current: number }[];
    db.close();
    for (const id of new Set(rows.map((r) => r.mql_id))) {
      const ofLead = rows.filter((r) => r.mql_id === id);
      expect(ofLead.filter((r) => r.is_current === 1).map((r) => r.id), id).toEqual([ofLead.at(-1)!.id]);
    }
    expect((await store.getLead('lead-0002'))!.current.request_id).toBe('r11');
  });

  it('checkpoints from a thread of its own: the file takes the scores while the writer only appends to the log', async () => {
    const file = path.join(dir, 'checkpointed.db');
    // The writer's own automatic checkpoint out of reach: only the thread can move pages into the file.
    const sqlite = new SqliteStore(file, 'normal', {}, { checkpointRows: 500, checkpointPages: 1_000_000 }).open();
    store = sqlite;
    const pages = () => (statSync(file).size / 4096) | 0;
    const empty = pages();
    await sqlite.recordScores({ request_id: 'small', scored_at: new Date(), model_version: 'm', leads: [lead(1), lead(2)] });
    expect(sqlite.checkpointer.runs).toBe(0); // no thread for a store written little
    for (let batch = 0; batch < 6; batch++) {
      await sqlite.recordScores({ request_id: `b${batch}`, scored_at: new Date(), model_version: 'm', leads: Array.from({ length: 200 }, (_, i) => lead(1000 + batch * 200 + i)) });
      await sqlite.checkpointer.idle();
    }
    expect(sqlite.checkpointer.runs).toBe(2); // after 602 and 1,002 scores
    expect(pages()).toBeGreaterThan(empty + 10);
    // Whatever was checkpointed or not, the store holds every score, closed and opened again.
    await sqlite.close();
    store = await openSqlite(file);
    let stored = 0;
    for await (const chunk of store.exportPredictions({})) stored += chunk.length;
    expect(stored).toBe(1202);
  });

  it('waits for another connection\'s write lock with the event loop running, writes once it is released, and answers 503 when it is not', async () => {
    const file = path.join(dir, 'locked.db');
    // The event loop turns between attempts (each waits at most 20 ms), many times within the 5 s.
    const sqlite = new SqliteStore(file, 'normal', {}, { lockWaitMs: 5000 }).open();
    store = sqlite;
    await sqlite.recordScores({ request_id: 'first', scored_at: new Date(), model_version: 'm', leads: [lead(1)] });
    // Another process's writer (a second worker, a tool): it holds the write lock until it commits.
    const other = new Database(file);
    const turns = async (count: number) => {
      for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
    };
    const settled = (promise: Promise<unknown>) => {
      let done = false;
      promise.then(
        () => (done = true),
        () => (done = true),
      );
      return () => done;
    };
    try {
      other.exec('BEGIN IMMEDIATE');
      const write = sqlite.recordScores({ request_id: 'waits', scored_at: new Date(), model_version: 'm', leads: [lead(2)] });
      const outcome = sqlite.recordOutcomes([{ mql_id: 'lead-0001', won_date: '2018-04-01', converted: true }]);
      const writeDone = settled(write);
      // The event loop turns while both wait (SQLite's own 5 s busy wait held it for the whole wait).
      await turns(3);
      expect(writeDone()).toBe(false);
      // Many writes waiting at once take turns: one attempt (at most 20 ms) per turn of the event loop,
      // not one each (40 writes retrying on their own held each turn for ~800 ms).
      const waiting = Array.from({ length: 40 }, (_, i) => sqlite.recordOutcomes([{ mql_id: `waiting-${i}`, won_date: null, converted: false }]));
      const late: number[] = [];
      for (let i = 0; i < 5; i++) {
        const due = performance.now() + 5;
        await new Promise((resolve) => setTimeout(resolve, 5));
        late.push(performance.now() - due);
      }
      expect(Math.max(...late), late.map((ms) => ms.toFixed(0)).join(' ')).toBeLessThan(250);
      other.exec('COMMIT');
      await write;
      expect(await outcome).toMatchObject({ matched: 1 });
      expect((await Promise.all(waiting)).map((receipt) => receipt.received)).toEqual(Array(40).fill(1));

      // A lock held past the wait: a 503, and health down, until it is released.
      const impatient = new SqliteStore(file, 'normal', {}, { lockWaitMs: 300 }).open();
      try {
        other.exec('BEGIN IMMEDIATE');
        await expect(impatient.recordScores({ request_id: 'refused', scored_at: new Date(), model_version: 'm', leads: [lead(3)] })).rejects.toBeInstanceOf(StoreUnavailableError);
        expect(await impatient.health()).toMatchObject({ status: 'down', message: expect.stringMatching(/locked/) });
        other.exec('ROLLBACK');
        expect(await impatient.health()).toMatchObject({ status: 'up' });
      } finally {
        await impatient.close();
      }
      expect((await sqlite.listPredictions({})).predictions.map((p) => p.mql_id).sort()).toEqual(['lead-0001', 'lead-0002']);
    } finally {
      other.close();
    }
  });

  it('finishes closing while its checkpoint thread works, or an export waits on its reader, in a process with nothing else left to do', async () => {
    const file = path.join(dir, 'closing.db');
    const { stdout } = await run(process.execPath, [testChild('close-child'), file]);
    expect(stdout).toBe('closed after 1 checkpoint(s)\nsecond close returned with the log gone\nthe store was closed during the export\n');
    expect(existsSync(`${file}-wal`)).toBe(false); // the last connection to close checkpointed the rest and removed the log
  });
});

describe('SQLite store on a file it may not write', () => {
  it('answers StoreUnavailableError while the file is read-only, and writes again by itself once it is not', async (context) => {
    const dir = tempDir();
    chmodSync(dir, 0o777); // the child may create the WAL files beside the database
    const file = path.join(dir, 'readonly.db');
    await (await openSqlite(file)).close();
    chmodSync(file, 0o444);
    // root writes whatever the mode says, so as root the store runs as nobody (65534)
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const child = fork(testChild('store-child'), [file], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], ...asNobody });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const replies: Record<string, unknown>[] = [];
    const waiting: ((reply: Record<string, unknown>) => void)[] = [];
    child.on('message', (reply: Record<string, unknown>) => (waiting.length ? waiting.shift()!(reply) : replies.push(reply)));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const next = () =>
      Promise.race([
        new Promise<Record<string, unknown>>((resolve) => (replies.length ? resolve(replies.shift()!) : waiting.push(resolve))),
        exited.then(() => Promise.reject(new Error(`the store process exited: ${stderr}`))),
      ]);
    const ask = (command: object) => {
      child.send(command);
      return next();
    };
    try {
      const ready = await next().catch((error: Error) => {
        if (/EACCES/.test(stderr)) return null; // this checkout cannot be read by nobody: nothing to learn here
        throw error;
      });
      if (!ready) {
        console.warn('read-only store test skipped: the project folder is not readable by the nobody user');
        return context.skip();
      }
      expect(ready).toEqual({ ready: true }); // an up-to-date file opens read-only
      expect(await ask({ op: 'write', n: 1 })).toMatchObject({ ok: false, error: 'StoreUnavailableError', message: expect.stringMatching(/readonly/i), retryAfter: 5 });
      expect(await ask({ op: 'health' })).toMatchObject({ health: { status: 'down', backend: 'sqlite' } });
      // what an operator does: make the database writable again, with the WAL files SQLite made beside it in the same mode
      for (const name of readdirSync(dir)) chmodSync(path.join(dir, name), 0o666);
      expect(await ask({ op: 'write', n: 2 })).toEqual({ ok: true });
      expect(await ask({ op: 'health' })).toMatchObject({ health: { status: 'up' } });
      expect(await ask({ op: 'close' })).toEqual({ ok: true });
    } finally {
      child.kill();
      await exited;
    }
    const store = await openSqlite(file);
    expect((await store.listPredictions({})).predictions.map((p) => p.mql_id)).toEqual(['lead-2']);
    await store.close();
  });
});

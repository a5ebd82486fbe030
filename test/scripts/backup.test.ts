import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup, BackupError } from '../../scripts/backup.js';
import { BackupInterrupted, backupSqlite } from '../../src/store/backup.js';
import { openStore, type Store } from '../../src/store/index.js';
import { lead } from '../store/contract.js';

const run = promisify(execFile);
const quiet = { stdout: () => {} };
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'leadscore-backup-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const openSqlite = async (file: string) => (await openStore({ kind: 'sqlite', path: file, synchronous: 'normal' }))!;
/** A closed store holding one request of five scores. */
async function storeOfFive(name: string): Promise<string> {
  const source = path.join(dir, `${name}.db`);
  const store = await openSqlite(source);
  await store.recordScores(batch(1, 5));
  await store.close();
  return source;
}
const batch = (request: number, size: number) => ({
  request_id: `r${request}`,
  scored_at: new Date(Date.UTC(2026, 2, 1) + request * 1000),
  model_version: 'm',
  leads: Array.from({ length: size }, (_, i) => lead(request * 1000 + i)),
});

describe('npm run backup', () => {
  it('copies the store as one instant saw it while the service keeps writing: every batch whole or absent', async () => {
    const source = path.join(dir, 'live.db');
    const store = await openSqlite(source);
    try {
      for (let r = 0; r < 10; r++) await store.recordScores(batch(r, 50));
      // The command in a process of its own, as an operator runs it beside the service; this process keeps writing meanwhile.
      const target = path.join(dir, 'live-copy.db');
      let writing = true;
      let written = 10;
      const writer = (async () => {
        while (writing) await store.recordScores(batch(written++, 50));
      })();
      const { stdout } = await run(process.execPath, ['dist/cli/backup.js', target], { env: { ...process.env, STORE_URL: `sqlite:${source}` } }).finally(() => (writing = false));
      await writer;

      const copy = new Database(target, { readonly: true });
      const perRequest = copy.prepare('SELECT request_id, count(*) AS n FROM scores GROUP BY request_id').all() as { request_id: string; n: number }[];
      const total = copy.prepare('SELECT count(*) FROM scores').pluck().get() as number;
      copy.close();
      expect(perRequest.filter((row) => row.n !== 50)).toEqual([]); // no batch in part
      const copied = new Set(perRequest.map((row) => row.request_id));
      // A prefix of what was written: the first ten, and every later batch up to the instant of the copy.
      const expected = Array.from({ length: copied.size }, (_, r) => `r${r}`);
      expect([...copied].sort()).toEqual(expected.sort());
      expect(copied.size).toBeGreaterThanOrEqual(10);
      expect(stdout).toBe(`backed up ${total} scores and 0 outcomes (store schema version 1, ${readFileSync(target).length} bytes) from ${source} to ${target}\n`);
      expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('restores as a store that answers what the original answered', async () => {
    const source = path.join(dir, 'quiet.db');
    const store = await openSqlite(source);
    let original: Awaited<ReturnType<Store['listPredictions']>>;
    try {
      for (let r = 0; r < 3; r++) await store.recordScores(batch(r, 20));
      await store.recordOutcomes([{ mql_id: lead(1).mql_id, won_date: '2026-04-01', converted: true }]);
      original = await store.listPredictions({}, { limit: 1000 });
    } finally {
      await store.close();
    }
    const target = path.join(dir, 'quiet-copy.db');
    expect(await backup([target], { ...quiet, env: { STORE_URL: `sqlite:${source}` } })).toMatchObject({ scores: 60, outcomes: 1, schemaVersion: 1 });
    const restored = await openSqlite(target);
    try {
      expect(await restored.listPredictions({}, { limit: 1000 })).toEqual(original);
    } finally {
      await restored.close();
    }
  });

  it('never writes over a file, creates no store, and leaves nothing behind when it refuses', async () => {
    const source = await storeOfFive('refusals');
    const env = { STORE_URL: `sqlite:${source}` };
    const refused = (argv: string[], options: { env?: NodeJS.ProcessEnv } = {}) => backup(argv, { ...quiet, env, ...options });

    const existing = path.join(dir, 'existing.db');
    writeFileSync(existing, 'an earlier backup');
    await expect(refused([existing])).rejects.toThrow(new BackupError(`${existing} already exists; a backup never replaces a file: name a new one`));
    expect(readFileSync(existing, 'utf8')).toBe('an earlier backup');
    // The store's own files: a copy there would be the store's log, or deleted by the store's next open.
    for (const suffix of ['', '-wal', '-shm', '-journal']) await expect(refused([source + suffix])).rejects.toThrow(/is one of the store's own files/);
    await expect(refused([dir])).rejects.toThrow(/is a folder; name a file in it/);

    const missing = path.join(dir, 'missing.db');
    await expect(refused([path.join(dir, 'x.db')], { env: { STORE_URL: `sqlite:${missing}` } })).rejects.toThrow(/there is no store at .*missing\.db/);
    expect(existsSync(missing)).toBe(false);
    await expect(refused([path.join(dir, 'no-such-folder', 'x.db')])).rejects.toThrow(/the folder .*no-such-folder does not exist/);

    // SQLite files that are not a store: refused after the copy was made, and the copy removed.
    const other = path.join(dir, 'other.db');
    new Database(other).exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    await expect(refused([path.join(dir, 'other-copy.db')], { env: { STORE_URL: `sqlite:${other}` } })).rejects.toThrow(/is not a leadscore store/);
    const unmigrated = path.join(dir, 'unmigrated.db');
    new Database(unmigrated).exec('CREATE TABLE store_migrations (version INTEGER PRIMARY KEY); CREATE TABLE scores (x); CREATE TABLE outcomes (x)');
    await expect(refused([path.join(dir, 'unmigrated-copy.db')], { env: { STORE_URL: `sqlite:${unmigrated}` } })).rejects.toThrow(/is not a leadscore store/);
    expect(existsSync(path.join(dir, 'other-copy.db')) || existsSync(path.join(dir, 'unmigrated-copy.db'))).toBe(false);

    await expect(refused([path.join(dir, 'y.db')], { env: { STORE_URL: 'postgres://u:secret@db:5432/leads' } })).rejects.toThrow(/^postgres:\/\/u@db:5432\/leads is PostgreSQL: back it up with pg_dump/);
    await expect(refused([path.join(dir, 'y.db')], { env: { STORE_URL: 'none' } })).rejects.toThrow(/the store is off/);
    await expect(refused([])).rejects.toThrow(/name one file/);
    await expect(refused([' '])).rejects.toThrow(/name one file/);
    await expect(refused([path.join(dir, 'y.db'), '--store-url', ''])).rejects.toThrow(/--store-url is empty/);
    expect(readdirSync(dir).filter((name) => name.includes('.tmp'))).toEqual([]);
  });

  it('removes what a killed backup to the same name left, and nothing a running one is writing', async () => {
    const source = await storeOfFive('stale');
    const target = path.join(dir, 'nightly.db');
    const deadPid = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['-e', '']);
      child.on('exit', () => resolve(child.pid!));
    });
    const hourAgo = new Date(Date.now() - 3_600_000);
    const left = (pid: number, suffix = '', when = hourAgo) => {
      const file = path.join(dir, `.nightly.db.${pid}.${randomBytes(6).toString('hex')}.tmp${suffix}`);
      writeFileSync(file, 'a partial copy');
      utimesSync(file, when, when);
      return file;
    };
    const killed = [left(deadPid), left(deadPid, '-journal')];
    const running = left(process.pid); // this process is alive
    const fresh = left(deadPid, '', new Date()); // written to a moment ago: perhaps another machine's, on a shared folder
    await backup([target], { ...quiet, env: { STORE_URL: `sqlite:${source}` } });
    for (const file of killed) expect(existsSync(file), file).toBe(false);
    expect(existsSync(running) && existsSync(fresh)).toBe(true);
    rmSync(running);
    rmSync(fresh);
  });

  it('stops when told to (Ctrl-C, a job\'s timeout) and leaves nothing behind', async () => {
    const source = await storeOfFive('stopped');
    const stop = new AbortController();
    const target = path.join(dir, 'stopped-copy.db');
    const stopped = backupSqlite(source, target, { signal: stop.signal });
    stop.abort();
    await expect(stopped).rejects.toBeInstanceOf(BackupInterrupted);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(dir).filter((name) => name.includes('stopped-copy'))).toEqual([]);
  });

  it('renames the copy into place where the file system has no hard links, still never over a file', async () => {
    const source = await storeOfFive('nolinks');
    const noLinks = () => {
      throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
    };
    const target = path.join(dir, 'nolinks-copy.db');
    expect(await backupSqlite(source, target, { link: noLinks })).toMatchObject({ file: target, scores: 5 });
    expect(new Database(target, { readonly: true }).prepare('SELECT count(*) FROM scores').pluck().get()).toBe(5);
    expect(readdirSync(dir).filter((name) => name.includes('.tmp'))).toEqual([]);
  });
});

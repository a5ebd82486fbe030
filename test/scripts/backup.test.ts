import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup, BackupError } from '../../scripts/backup.js';
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
    expect(backup([target], { ...quiet, env: { STORE_URL: `sqlite:${source}` } })).toMatchObject({ scores: 60, outcomes: 1, schemaVersion: 1 });
    const restored = await openSqlite(target);
    try {
      expect(await restored.listPredictions({}, { limit: 1000 })).toEqual(original);
    } finally {
      await restored.close();
    }
  });

  it('never writes over a file, creates no store, and leaves nothing behind when it refuses', async () => {
    const source = path.join(dir, 'refusals.db');
    const store = await openSqlite(source);
    await store.recordScores(batch(1, 5));
    await store.close();
    const env = { STORE_URL: `sqlite:${source}` };

    const existing = path.join(dir, 'existing.db');
    writeFileSync(existing, 'an earlier backup');
    expect(() => backup([existing], { ...quiet, env })).toThrow(new BackupError(`${existing} already exists; a backup never replaces a file: name a new one`));
    expect(readFileSync(existing, 'utf8')).toBe('an earlier backup');

    const missing = path.join(dir, 'missing.db');
    expect(() => backup([path.join(dir, 'x.db')], { ...quiet, env: { STORE_URL: `sqlite:${missing}` } })).toThrow(/there is no store at .*missing\.db/);
    expect(existsSync(missing)).toBe(false);
    expect(() => backup([path.join(dir, 'no-such-folder', 'x.db')], { ...quiet, env })).toThrow(/the folder .*no-such-folder does not exist/);

    // A SQLite file that is not a store: refused after the copy was made, and the copy removed.
    const other = path.join(dir, 'other.db');
    new Database(other).exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    expect(() => backup([path.join(dir, 'other-copy.db')], { ...quiet, env: { STORE_URL: `sqlite:${other}` } })).toThrow(/is not a leadscore store/);
    expect(existsSync(path.join(dir, 'other-copy.db'))).toBe(false);

    expect(() => backup([path.join(dir, 'y.db')], { ...quiet, env: { STORE_URL: 'postgres://u:secret@db:5432/leads' } })).toThrow(/^postgres:\/\/u@db:5432\/leads is PostgreSQL: back it up with pg_dump/);
    expect(() => backup([path.join(dir, 'y.db')], { ...quiet, env: { STORE_URL: 'none' } })).toThrow(/the store is off/);
    expect(() => backup([], { ...quiet, env })).toThrow(/name one file/);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});

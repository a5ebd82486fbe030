// The store contract on SQLite files, and what only the embedded store does: creating its file, WAL, recovering a file it could not write.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, StoreConfigError, StoreUnavailableError, type Store, type StoreOptions } from '../../src/store/index.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { lead, storeContract } from './contract.js';

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
});

// A consistent copy of a SQLite store, taken while the service keeps scoring into it.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, openSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StoreConfigError } from './errors.js';

export interface BackupSummary {
  file: string;
  scores: number;
  outcomes: number;
  /** The store's schema version, as store_migrations records it: a newer build migrates a restored copy forward. */
  schemaVersion: number;
  bytes: number;
}

/**
 * Copies the SQLite store at `source` to `target` with `VACUUM INTO`: one read transaction, so the
 * copy is the store as one instant saw it (every batch whole or absent) while writers go on, and
 * compacted. SQLite's backup API would start over after each write by another connection, and a
 * busy service writes every few milliseconds. The copy goes to a temporary file beside the target,
 * is checked (quick_check) and synced, and is linked to its name only then, which fails rather than
 * replace a file that exists: a backup never overwrites one, and a failure leaves nothing behind.
 */
export function backupSqlite(source: string, target: string): BackupSummary {
  if (!existsSync(source)) throw new StoreConfigError(`there is no store at ${source}: point --store-url (or STORE_URL) at the service's store`);
  if (existsSync(target)) throw new StoreConfigError(`${target} already exists; a backup never replaces a file: name a new one`);
  const dir = path.dirname(target);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new StoreConfigError(`the folder ${dir} does not exist`);
  const temporary = path.join(dir, `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    // fileMustExist: a mistyped path must not create an empty store. Not read-only: a WAL store's
    // reader needs its shared-memory file, which a read-only connection cannot create after a clean shutdown.
    const db = new Database(source, { fileMustExist: true, timeout: 5000 });
    try {
      db.prepare('VACUUM INTO ?').run(temporary);
    } finally {
      db.close();
    }
    const copy = new Database(temporary, { readonly: true, fileMustExist: true });
    let summary: Omit<BackupSummary, 'file' | 'bytes'>;
    try {
      const check = copy.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`the copy failed SQLite's check: ${String(check)}`);
      const count = (table: string) => copy.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
      const hasMigrations = copy.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'store_migrations'").get();
      if (!hasMigrations) throw new StoreConfigError(`${source} is not a leadscore store (it has no store_migrations table)`);
      summary = {
        scores: count('scores'),
        outcomes: count('outcomes'),
        schemaVersion: copy.prepare('SELECT max(version) FROM store_migrations').pluck().get() as number,
      };
    } finally {
      copy.close();
    }
    // VACUUM INTO does not sync what it writes: the copy is on disk before it has its name.
    const fd = openSync(temporary, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(temporary, target);
    rmSync(temporary);
    syncFolder(dir);
    return { file: target, bytes: statSync(target).size, ...summary };
  } catch (error) {
    rmSync(temporary, { force: true });
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new StoreConfigError(`${target} already exists; a backup never replaces a file: name a new one`);
    throw error;
  }
}

/** The folder's entry for the new name, synced too (where the platform allows a folder to be). */
function syncFolder(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // not every platform syncs a folder; the file itself is synced
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

// A consistent copy of a SQLite store, taken while the service keeps scoring into it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, existsSync, fsyncSync, linkSync, lstatSync, openSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { StoreConfigError } from './errors.js';

export interface BackupSummary {
  file: string;
  scores: number;
  outcomes: number;
  /** The store's schema version, as store_migrations records it: a newer build migrates a restored copy forward. */
  schemaVersion: number;
  bytes: number;
}

export interface BackupOptions {
  /** Stops the copy: the promise rejects with BackupInterrupted once it is stopped and its files removed. */
  signal?: AbortSignal;
  /** How the finished copy gets its name; tests stand in a file system without hard links. */
  link?: (existing: string, target: string) => void;
}

/** SQLite's files beside a store: none of them may be a backup's target. */
const STORE_FILES = ['', '-wal', '-shm', '-journal'];
/** A temporary file older than this whose process is gone was left by a killed backup. */
const STALE_AFTER_MS = 60_000;

/*
 * The copy and its check, in a process of its own (`node -e`): SQLite runs VACUUM INTO in one call
 * that no signal handler can interrupt, and a thread ended during it took the process down with a
 * V8 fatal error; a process is simply killed, and this one then removes what it wrote. Opened
 * read-write first (a WAL store's reader needs its shared-memory file, which a read-only connection
 * cannot create after a clean shutdown), read-only if that is refused (a folder this user may not write).
 */
const PROGRAM = `
const workerData = JSON.parse(process.env.LEADSCORE_BACKUP);
const Database = require(workerData.driver);
const answer = (message) => process.stdout.write(JSON.stringify(message));
const fail = (phase, error) => answer({ phase, message: error.message, code: error.code });
(function main() {
let db;
try {
  try {
    db = new Database(workerData.source, { fileMustExist: true, timeout: 5000 });
  } catch (error) {
    db = new Database(workerData.source, { fileMustExist: true, readonly: true, timeout: 5000 });
  }
} catch (error) {
  return fail('source', error);
}
try {
  db.prepare('VACUUM INTO ?').run(workerData.temporary);
} catch (error) {
  return fail(/BUSY|LOCKED|CORRUPT|NOTADB/.test(error.code) ? 'source' : 'copy', error);
} finally {
  db.close();
}
let copy;
try {
  copy = new Database(workerData.temporary, { readonly: true, fileMustExist: true });
  const check = copy.pragma('quick_check', { simple: true });
  if (check !== 'ok') return fail('copy', new Error('the copy failed SQLite\\'s check: ' + check));
  const has = (table) => copy.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
  const version = has('store_migrations') ? copy.prepare('SELECT max(version) FROM store_migrations').pluck().get() : null;
  if (version === null || !has('scores') || !has('outcomes')) return fail('not-a-store', new Error('it has no leadscore tables'));
  const count = (table) => copy.prepare('SELECT count(*) FROM ' + table).pluck().get();
  answer({ scores: count('scores'), outcomes: count('outcomes'), schemaVersion: version });
} catch (error) {
  fail('copy', error);
} finally {
  copy?.close();
}
})();
`;

interface Checked {
  scores?: number;
  outcomes?: number;
  schemaVersion?: number;
  phase?: 'source' | 'copy' | 'not-a-store';
  message?: string;
}

/**
 * Copies the SQLite store at `source` to `target` with `VACUUM INTO`: one read transaction, so the
 * copy is the store as one instant saw it (every batch whole or absent) while writers go on, and
 * compacted. SQLite's backup API would start over after each write by another connection, and a
 * busy service writes every few milliseconds. The copy goes to a temporary file beside the target,
 * is checked (quick_check, the store's tables) and synced, and is linked to its name only then,
 * which fails rather than replace a file that exists: a backup never overwrites one, and a failure
 * leaves nothing behind. Temporary files of earlier backups to the same name that were killed
 * (their process gone, untouched for a minute) are removed first.
 */
export async function backupSqlite(source: string, target: string, options: BackupOptions = {}): Promise<BackupSummary> {
  if (!existsSync(source)) throw new StoreConfigError(`there is no store at ${source}: point --store-url (or STORE_URL) at the service's store`);
  if (STORE_FILES.some((suffix) => path.resolve(target) === path.resolve(source + suffix))) {
    throw new StoreConfigError(`${target} is one of the store's own files; name a file of its own for the copy`);
  }
  const existing = lstatSync(target, { throwIfNoEntry: false });
  if (existing?.isDirectory()) throw new StoreConfigError(`${target} is a folder; name a file in it for the copy`);
  if (existing) throw alreadyExists(target);
  const dir = path.dirname(target);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new StoreConfigError(`the folder ${dir} does not exist`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new StoreConfigError(`cannot write in the folder ${dir}`);
  }
  removeStaleTemporaries(target);
  const temporary = temporaryName(target);
  try {
    const checked = await copyAndCheck(source, temporary, options.signal);
    if (checked.phase === 'source') throw new StoreConfigError(`cannot read the store ${source}: ${checked.message}`);
    if (checked.phase === 'not-a-store') throw new StoreConfigError(`${source} is not a leadscore store (${checked.message})`);
    if (checked.phase === 'copy') throw new Error(`cannot write the copy in ${dir}: ${checked.message}`);
    // VACUUM INTO does not sync what it writes: the copy is on disk before it has its name.
    syncFile(temporary);
    giveName(temporary, target, options.link ?? linkSync);
    removeQuietly(temporary);
    syncFile(dir);
    return { file: target, bytes: statSync(target).size, scores: checked.scores!, outcomes: checked.outcomes!, schemaVersion: checked.schemaVersion! };
  } catch (error) {
    removeQuietly(temporary);
    throw error;
  } finally {
    removeQuietly(`${temporary}-journal`);
  }
}

function copyAndCheck(source: string, temporary: string, signal?: AbortSignal): Promise<Checked> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', PROGRAM], {
      env: { ...process.env, LEADSCORE_BACKUP: JSON.stringify({ source, temporary, driver: createRequire(import.meta.url).resolve('better-sqlite3') }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    const abort = () => child.kill('SIGKILL');
    signal?.addEventListener('abort', abort, { once: true });
    if (signal?.aborted) abort();
    child.once('error', reject);
    child.once('close', (code, killed) => {
      signal?.removeEventListener('abort', abort);
      if (signal?.aborted) return reject(new BackupInterrupted());
      try {
        resolve(JSON.parse(out) as Checked);
      } catch {
        reject(new Error(`the copying process ended (${killed ?? `exit ${code}`}) without an answer: ${err.trim().split('\n')[0] ?? ''}`));
      }
    });
  });
}

/** The backup was stopped (Ctrl-C, a job's timeout) before it finished; nothing was written. */
export class BackupInterrupted extends Error {
  constructor() {
    super('interrupted; nothing was written');
  }
}

/**
 * A hard link never replaces a file. Where the file system has none (FAT, many SMB mounts), the
 * copy is renamed instead, after one more look that the name is still free.
 */
function giveName(temporary: string, target: string, link: (existing: string, target: string) => void): void {
  try {
    link(temporary, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw alreadyExists(target);
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS' && code !== 'EXDEV') throw error;
    if (lstatSync(target, { throwIfNoEntry: false })) throw alreadyExists(target);
    renameSync(temporary, target);
  }
}

const alreadyExists = (target: string) => new StoreConfigError(`${target} already exists; a backup never replaces a file: name a new one`);

/** Hidden, beside the target, named with this process's id (to tell a killed backup's leftovers), short enough for any file name limit. */
function temporaryName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target).slice(0, 100)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

function removeStaleTemporaries(target: string): void {
  const prefix = `.${path.basename(target).slice(0, 100)}.`;
  const dir = path.dirname(target);
  for (const name of readdirSync(dir)) {
    const match = /^(\d+)\.[0-9a-f]{12}\.tmp(-journal)?$/.exec(name.startsWith(prefix) ? name.slice(prefix.length) : '');
    if (!match || isRunning(Number(match[1]))) continue;
    const file = path.join(dir, name);
    const stats = lstatSync(file, { throwIfNoEntry: false });
    if (stats?.isFile() && Date.now() - stats.mtimeMs > STALE_AFTER_MS) removeQuietly(file);
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // someone else's process
  }
}

function syncFile(file: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    fsyncSync(fd);
  } catch (error) {
    // A folder cannot be synced everywhere; a file must be.
    if (!statSync(file).isDirectory()) throw error;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Cleaning up never hides the error that made it necessary. */
function removeQuietly(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch {
    // nothing more to do
  }
}

// npm run backup -- <file> [--store-url <url>]
// A consistent copy of the SQLite store (STORE_URL, as the service reads it) while the service
// keeps scoring: every batch in it whole or not at all, checked, synced, and never written over an
// existing file. Exit 0 with a summary line, 1 with one line saying what is wrong.
// PostgreSQL is backed up with its own tools (pg_dump); see the README.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { backupSqlite, type BackupSummary } from '../src/store/backup.js';
import { describeLocation, parseStoreUrl, StoreConfigError, type StoreLocation } from '../src/store/index.js';

/** A refusal or a failure, reported as one line and exit code 1. */
export class BackupError extends Error {}

export interface BackupIo {
  stdout?: (text: string) => void;
  /** The environment STORE_URL is read from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export function backup(argv: string[], io: BackupIo = {}): BackupSummary {
  const stdout = io.stdout ?? ((text: string) => process.stdout.write(text));
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { 'store-url': { type: 'string' } } });
  } catch (error) {
    throw new BackupError((error as Error).message);
  }
  const { values: args, positionals } = parsed;
  if (positionals.length !== 1) throw new BackupError('name one file to write the copy to: npm run backup -- <file> [--store-url sqlite:<path>]');
  let location: StoreLocation;
  try {
    location = parseStoreUrl(args['store-url'] ?? (io.env ?? process.env).STORE_URL);
  } catch (error) {
    if (error instanceof StoreConfigError) throw new BackupError(args['store-url'] !== undefined ? `--store-url: ${error.message.replace(/^STORE_URL:? ?/, '')}` : error.message);
    throw error;
  }
  if (location.kind === 'none') throw new BackupError('the store is off (STORE_URL=none): there is nothing to back up; pass --store-url <url>');
  if (location.kind === 'postgres') throw new BackupError(`${describeLocation(location)} is PostgreSQL: back it up with pg_dump (see the README's "Backing up the store")`);
  let summary: BackupSummary;
  try {
    summary = backupSqlite(location.path, path.resolve(positionals[0]!));
  } catch (error) {
    if (error instanceof StoreConfigError) throw new BackupError(error.message);
    throw new BackupError(`the backup of ${location.path} failed, and nothing was written: ${(error as Error).message}`);
  }
  stdout(`backed up ${summary.scores} scores and ${summary.outcomes} outcomes (store schema version ${summary.schemaVersion}, ${summary.bytes} bytes) from ${location.path} to ${summary.file}\n`);
  return summary;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    backup(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`backup: ${(error as Error).message}\n`);
    process.exit(1);
  }
}

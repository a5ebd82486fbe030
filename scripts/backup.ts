// npm run backup -- <file> [--store-url <url>]
// A consistent copy of the SQLite store (STORE_URL, as the service reads it) while the service
// keeps scoring: every batch in it whole or not at all, checked, synced, and never written over an
// existing file. Exit 0 with a summary line, 1 with one line saying what is wrong.
// PostgreSQL is backed up with its own tools (pg_dump); see the README.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { BackupInterrupted, backupSqlite, type BackupSummary } from '../src/store/backup.js';
import { describeLocation, parseStoreOption, parseStoreUrl, StoreConfigError, type StoreLocation } from '../src/store/index.js';

/** A refusal or a failure, reported as one line and exit code 1. */
export class BackupError extends Error {}

export interface BackupIo {
  stdout?: (text: string) => void;
  /** The environment STORE_URL (and npm's INIT_CWD) are read from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Stops the backup (the command's SIGINT and SIGTERM). */
  signal?: AbortSignal;
}

export async function backup(argv: string[], io: BackupIo = {}): Promise<BackupSummary> {
  const stdout = io.stdout ?? ((text: string) => process.stdout.write(text));
  const env = io.env ?? process.env;
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { 'store-url': { type: 'string' } } });
  } catch (error) {
    throw new BackupError((error as Error).message);
  }
  const { values: args, positionals } = parsed;
  if (positionals.length !== 1 || !positionals[0]!.trim()) throw new BackupError('name one file to write the copy to: npm run backup -- <file> [--store-url sqlite:<path>]');
  if (args['store-url'] !== undefined && !args['store-url'].trim()) throw new BackupError('--store-url is empty: give sqlite:<path>, or leave it out to use STORE_URL');
  let location: StoreLocation;
  try {
    // A path typed on the command line is the user's; STORE_URL is the service's, from where the service runs.
    location = args['store-url'] !== undefined ? parseStoreOption(args['store-url'], workingDirectory(env)) : parseStoreUrl(env.STORE_URL);
  } catch (error) {
    if (error instanceof StoreConfigError) throw new BackupError(error.message);
    throw error;
  }
  if (location.kind === 'none') throw new BackupError('the store is off (STORE_URL=none): there is nothing to back up; pass --store-url <url>');
  if (location.kind === 'postgres') throw new BackupError(`${describeLocation(location)} is PostgreSQL: back it up with pg_dump (see the README's "Backing up the store")`);
  let summary: BackupSummary;
  try {
    summary = await backupSqlite(location.path, path.resolve(workingDirectory(env), positionals[0]!), { signal: io.signal });
  } catch (error) {
    if (error instanceof StoreConfigError || error instanceof BackupInterrupted) throw new BackupError(error.message);
    throw new BackupError(`the backup of ${location.path} failed, and nothing was written: ${(error as Error).message}`);
  }
  stdout(`backed up ${summary.scores} scores and ${summary.outcomes} outcomes (store schema version ${summary.schemaVersion}, ${summary.bytes} bytes) from ${location.path} to ${summary.file}\n`);
  return summary;
}

/** Where the user ran the command: npm runs scripts from the package's folder and says where it was started in INIT_CWD. */
function workingDirectory(env: NodeJS.ProcessEnv): string {
  return env.INIT_CWD || process.cwd();
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  // Interrupted (Ctrl-C, a cron job's timeout), the copy in progress is stopped and removed first.
  const stop = new AbortController();
  let exitCode = 1;
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      exitCode = code;
      stop.abort();
    });
  }
  backup(process.argv.slice(2), { signal: stop.signal }).catch((error: unknown) => {
    process.stderr.write(`backup: ${(error as Error).message}\n`);
    process.exit(exitCode);
  });
}

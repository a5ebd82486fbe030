// STORE_URL: which store to open, read once at start-up.
import path from 'node:path';
import { StoreConfigError } from './errors.js';
import type { StoreLocation } from './store.js';

export const DEFAULT_STORE_URL = 'sqlite:data/leadscore.db';

/**
 * `sqlite:<path>` (relative paths from `baseDir`; `?synchronous=full` to fsync every commit),
 * `postgres://…` or `postgresql://…`, or `none`. Unset or blank means the default SQLite file.
 */
export function parseStoreUrl(text: string | undefined, baseDir: string = process.cwd()): StoreLocation {
  const url = text?.trim() || DEFAULT_STORE_URL;
  if (url === 'none') return { kind: 'none' };
  if (url.startsWith('sqlite:')) return parseSqlite(url, baseDir);
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new StoreConfigError(`STORE_URL is not a valid PostgreSQL URL (postgres://user:password@host:5432/database)`);
    }
    if (!parsed.hostname && !parsed.searchParams.has('host')) throw new StoreConfigError('STORE_URL names no PostgreSQL host (postgres://user:password@host:5432/database)');
    return { kind: 'postgres', url };
  }
  throw new StoreConfigError(`STORE_URL must be sqlite:<path>, postgres://… or none (got ${JSON.stringify(redact(url))})`);
}

function parseSqlite(url: string, baseDir: string): StoreLocation {
  let rest = url.slice('sqlite:'.length);
  if (rest.startsWith('//')) rest = rest.slice(2); // sqlite:///abs/path and sqlite://relative, as other tools write them
  let synchronous: 'normal' | 'full' = 'normal';
  const question = rest.indexOf('?');
  if (question >= 0) {
    const params = new URLSearchParams(rest.slice(question + 1));
    rest = rest.slice(0, question);
    for (const [key, value] of params) {
      if (key !== 'synchronous') throw new StoreConfigError(`STORE_URL: unknown SQLite option ${JSON.stringify(key)} (known: synchronous)`);
      if (value !== 'normal' && value !== 'full') throw new StoreConfigError('STORE_URL: synchronous must be normal or full');
      synchronous = value;
    }
  }
  if (!rest) throw new StoreConfigError('STORE_URL names no SQLite file (sqlite:data/leadscore.db)');
  return { kind: 'sqlite', path: path.resolve(baseDir, rest), synchronous };
}

/** A command's --store-url option: read as STORE_URL is, its errors naming the option. */
export function parseStoreOption(text: string, baseDir?: string): StoreLocation {
  try {
    return parseStoreUrl(text, baseDir);
  } catch (error) {
    if (error instanceof StoreConfigError) throw new StoreConfigError(`--store-url: ${error.message.replace(/^STORE_URL:? ?/, '')}`);
    throw error;
  }
}

/** The URL without its password, for logs and messages. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1@');
  }
}

/** A location as a log line may show it. */
export function describeLocation(location: StoreLocation): string {
  if (location.kind === 'sqlite') return `sqlite:${location.path}`;
  if (location.kind === 'postgres') return redact(location.url);
  return 'none';
}

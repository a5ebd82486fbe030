// The store room's front door: open the store STORE_URL names, and everything a caller needs to use it.
import type { Store, StoreLocation, StoreOptions } from './store.js';

export type * from './store.js';
export { StoreConfigError, StoreError, StoreInputError, StoreUnavailableError } from './errors.js';
export { DEFAULT_STORE_URL, describeLocation, parseStoreOption, parseStoreUrl, redact } from './url.js';
export { SCHEMA_VERSION } from './migrations/index.js';
export { isCursor } from './sql.js';
export { scheduleRetention, type RetentionSchedule } from './retention.js';

/**
 * The read timeout of the commands that read every labelled lead in one query (training from the
 * store, the promotion gate): a batch job waits for a large store longer than a dashboard should.
 */
export const COMMAND_READ_TIMEOUT_MS = 600_000;

/**
 * Opens the store and brings its schema up to date; null for `none`. Rejects with
 * StoreUnavailableError when it cannot be reached or created, and with StoreConfigError when
 * its schema is newer than this build. Each backend's driver is loaded only when it is used.
 */
export async function openStore(location: StoreLocation, options: StoreOptions = {}): Promise<Store | null> {
  if (location.kind === 'none') return null;
  if (location.kind === 'sqlite') {
    const { openSqliteStore } = await import('./sqlite.js');
    return openSqliteStore(location.path, location.synchronous, options);
  }
  const { openPostgresStore } = await import('./postgres.js');
  return openPostgresStore(location.url, options);
}

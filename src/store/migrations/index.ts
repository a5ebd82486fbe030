// Numbered schema migrations, applied in order at open on both backends; append, never edit one that shipped.
import { migration as m001 } from './001-scores-and-outcomes.js';

export interface Migration {
  version: number;
  name: string;
  sqlite: string;
  postgres: string;
}

export const MIGRATIONS: readonly Migration[] = [m001];

/** The schema version this build writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The migrations a database at `applied` versions still needs; throws when it is ahead of this build. */
export function pendingMigrations(applied: readonly number[]): Migration[] {
  const newest = Math.max(0, ...applied);
  if (newest > SCHEMA_VERSION) {
    throw new RangeError(`the store's schema is at version ${newest}, newer than this build knows (${SCHEMA_VERSION}): run a newer leadscore, or point STORE_URL elsewhere`);
  }
  const done = new Set(applied);
  return MIGRATIONS.filter((migration) => !done.has(migration.version));
}

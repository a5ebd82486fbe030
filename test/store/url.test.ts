import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeLocation, parseStoreUrl, redact, StoreConfigError } from '../../src/store/index.js';
import { MIGRATIONS, pendingMigrations, SCHEMA_VERSION } from '../../src/store/migrations/index.js';

describe('STORE_URL', () => {
  it('defaults to the SQLite file data/leadscore.db under the base folder', () => {
    for (const unset of [undefined, '', '  ']) {
      expect(parseStoreUrl(unset, '/srv/app')).toEqual({ kind: 'sqlite', path: '/srv/app/data/leadscore.db', synchronous: 'normal' });
    }
  });

  it('reads SQLite paths, relative or absolute, and the synchronous option', () => {
    expect(parseStoreUrl('sqlite:store.db', '/srv')).toMatchObject({ path: '/srv/store.db' });
    expect(parseStoreUrl('sqlite:/var/lib/leadscore/s.db', '/srv')).toMatchObject({ path: '/var/lib/leadscore/s.db' });
    expect(parseStoreUrl('sqlite:///var/lib/s.db', '/srv')).toMatchObject({ path: '/var/lib/s.db' });
    expect(parseStoreUrl('sqlite:s.db?synchronous=full', '/srv')).toEqual({ kind: 'sqlite', path: path.resolve('/srv/s.db'), synchronous: 'full' });
  });

  it('reads PostgreSQL URLs and none', () => {
    expect(parseStoreUrl('postgres://u:p@db:5432/leads')).toEqual({ kind: 'postgres', url: 'postgres://u:p@db:5432/leads' });
    expect(parseStoreUrl('postgresql://db/leads')).toMatchObject({ kind: 'postgres' });
    expect(parseStoreUrl('none')).toEqual({ kind: 'none' });
  });

  it('refuses anything else with a message naming STORE_URL, never echoing a password', () => {
    const cases: [string, RegExp][] = [
      ['mysql://u:secret@db/x', /^STORE_URL must be sqlite:<path>, postgres:\/\/… or none/],
      ['sqlite:', /STORE_URL names no SQLite file/],
      ['sqlite:x.db?journal=off', /unknown SQLite option "journal"/],
      ['sqlite:x.db?synchronous=off', /synchronous must be normal or full/],
      ['postgres://', /STORE_URL/],
      ['None', /STORE_URL must be/],
    ];
    for (const [url, message] of cases) {
      expect(() => parseStoreUrl(url)).toThrow(StoreConfigError);
      expect(() => parseStoreUrl(url)).toThrow(message);
    }
    expect(() => parseStoreUrl('mysql://u:secret@db/x')).not.toThrow(/secret/);
  });

  it('describes a location without its password', () => {
    expect(redact('postgres://app:s3cret@db:5432/leads')).toBe('postgres://app@db:5432/leads');
    expect(describeLocation(parseStoreUrl('postgres://app:s3cret@db/leads'))).toBe('postgres://app@db/leads');
    expect(describeLocation(parseStoreUrl('sqlite:/x/y.db'))).toBe('sqlite:/x/y.db');
    expect(describeLocation({ kind: 'none' })).toBe('none');
  });
});

describe('migrations', () => {
  it('are numbered 1, 2, … in order, each with SQL for both backends', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    for (const migration of MIGRATIONS) {
      expect(migration.sqlite.trim()).not.toBe('');
      expect(migration.postgres.trim()).not.toBe('');
    }
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  it('lists what a database still needs, and refuses one that is ahead', () => {
    expect(pendingMigrations([]).map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(pendingMigrations(MIGRATIONS.map((m) => m.version))).toEqual([]);
    expect(() => pendingMigrations([SCHEMA_VERSION + 1])).toThrow(/newer than this build knows/);
  });
});

// The first schema: every score ever given (history kept), the outcomes the CRM reports, a heartbeat row.
import type { Migration } from './index.js';

/*
 * A lead's current score is its score with the highest id. On PostgreSQL that is derived when
 * read (nothing is updated when a lead is rescored, so replicas writing the same lead at once can
 * never leave two current rows); SQLite, with one writer at a time, keeps it as is_current.
 * Indexes: (scored_at, id) serves the newest-first pages, time windows and retention;
 * (mql_id, id) finds a lead's history and whether a score is the latest.
 */
export const migration: Migration = {
  version: 1,
  name: 'scores and outcomes',
  sqlite: `
    CREATE TABLE scores (
      id INTEGER PRIMARY KEY,
      mql_id TEXT NOT NULL,
      first_contact_date TEXT NOT NULL,
      landing_page_id TEXT NOT NULL,
      origin TEXT,
      probability REAL NOT NULL CHECK (probability >= 0 AND probability <= 1),
      tier TEXT NOT NULL CHECK (tier IN ('A', 'B', 'C', 'D')),
      model_version TEXT NOT NULL,
      scored_at INTEGER NOT NULL, -- milliseconds since 1970-01-01 UTC
      request_id TEXT NOT NULL,
      challenger_version TEXT,
      challenger_probability REAL CHECK (challenger_probability >= 0 AND challenger_probability <= 1),
      challenger_tier TEXT CHECK (challenger_tier IN ('A', 'B', 'C', 'D')),
      is_current INTEGER NOT NULL DEFAULT 1 CHECK (is_current IN (0, 1))
    ) STRICT;
    -- an index on a rowid table ends with the rowid: these are (scored_at, id) and (mql_id, id)
    CREATE INDEX scores_scored_at ON scores (scored_at);
    CREATE INDEX scores_mql_id ON scores (mql_id);
    CREATE TABLE outcomes (
      mql_id TEXT PRIMARY KEY,
      won_date TEXT,
      converted INTEGER NOT NULL CHECK (converted IN (0, 1)),
      received_at INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX outcomes_received_at ON outcomes (received_at);
    CREATE TABLE store_heartbeat (id INTEGER PRIMARY KEY, beat_at INTEGER NOT NULL) STRICT;
  `,
  // COLLATE "C": byte order, so a date-time string compares with a YYYY-MM-DD cut-off exactly as in SQLite, whatever the database's locale.
  postgres: `
    CREATE TABLE scores (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      mql_id text COLLATE "C" NOT NULL,
      first_contact_date text COLLATE "C" NOT NULL,
      landing_page_id text COLLATE "C" NOT NULL,
      origin text COLLATE "C",
      probability double precision NOT NULL CHECK (probability >= 0 AND probability <= 1),
      tier text NOT NULL CHECK (tier IN ('A', 'B', 'C', 'D')),
      model_version text COLLATE "C" NOT NULL,
      scored_at timestamptz NOT NULL,
      request_id text NOT NULL,
      challenger_version text COLLATE "C",
      challenger_probability double precision CHECK (challenger_probability >= 0 AND challenger_probability <= 1),
      challenger_tier text CHECK (challenger_tier IN ('A', 'B', 'C', 'D'))
    );
    CREATE INDEX scores_scored_at ON scores (scored_at, id);
    CREATE INDEX scores_mql_id ON scores (mql_id, id);
    CREATE TABLE outcomes (
      mql_id text COLLATE "C" PRIMARY KEY,
      won_date text,
      converted boolean NOT NULL,
      received_at timestamptz NOT NULL
    );
    CREATE INDEX outcomes_received_at ON outcomes (received_at);
    CREATE TABLE store_heartbeat (id integer PRIMARY KEY, beat_at timestamptz NOT NULL);
  `,
};

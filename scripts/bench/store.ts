// npm run bench:store: the store's own speed on SQLite and (with BENCH_POSTGRES_URL or TEST_POSTGRES_URL) PostgreSQL.
// Single-lead records at concurrency, a 10,000-lead batch, an export of 100,000 scores with its memory, open + migrate.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { seededRandom } from '../../src/model/metrics.js';
import { TIERS } from '../../src/model/tiers.js';
import { projectRoot } from '../../src/server/config.js';
import { openStore, type ScoredLead, type Store, type StoreLocation } from '../../src/store/index.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '5' },
    export: { type: 'string', default: '100000' },
    out: { type: 'string', default: 'bench-store-results.json' },
  },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const EXPORT_ROWS = Number(args.export);
const root = projectRoot();
const say = (message: string) => process.stderr.write(`${message}\n`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

const random = seededRandom(11);
const ORIGINS = ['organic_search', 'paid_search', 'social', 'unknown', 'direct_traffic', 'email', 'referral', 'other', 'display', 'other_publicities', null];
let serial = 0;
function leads(count: number): ScoredLead[] {
  return Array.from({ length: count }, () => {
    const probability = random() * 0.4;
    return {
      mql_id: `${(serial++).toString(16).padStart(8, '0')}${randomBytes(12).toString('hex')}`,
      first_contact_date: `2018-0${1 + Math.floor(random() * 5)}-1${Math.floor(random() * 9)}`,
      landing_page_id: randomBytes(16).toString('hex').slice(0, 28) + String(Math.floor(random() * 500)).padStart(4, '0'),
      origin: ORIGINS[Math.floor(random() * ORIGINS.length)]!,
      probability,
      tier: TIERS[Math.min(3, Math.floor((0.4 - probability) * 10))]!,
    };
  });
}
const batch = (scored: ScoredLead[], n: number) => ({ request_id: `bench-${n}`, scored_at: new Date(), model_version: '20261129.bench', leads: scored });

interface Backend {
  name: 'sqlite' | 'postgres';
  /** A new, empty store location each call. */
  fresh(): Promise<{ location: StoreLocation; drop: () => Promise<void> }>;
}

function sqliteBackend(): Backend {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'leadscore-bench-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  return {
    name: 'sqlite',
    async fresh() {
      const file = path.join(dir, `store-${n++}.db`);
      return { location: { kind: 'sqlite', path: file, synchronous: 'normal' }, drop: async () => rmSync(file, { force: true }) };
    },
  };
}

function postgresBackend(url: string): Backend {
  return {
    name: 'postgres',
    async fresh() {
      const schema = `bench_${randomBytes(4).toString('hex')}`;
      const admin = new pg.Client(url);
      await admin.connect();
      await admin.query(`CREATE SCHEMA ${schema}`);
      await admin.end();
      const withSchema = new URL(url);
      withSchema.searchParams.set('options', `-c search_path=${schema}`);
      return {
        location: { kind: 'postgres', url: withSchema.toString() },
        drop: async () => {
          const client = new pg.Client(url);
          await client.connect();
          await client.query(`DROP SCHEMA ${schema} CASCADE`);
          await client.end();
        },
      };
    },
  };
}

/** `writers` loops each recording one lead at a time, for SECONDS: what /predict asks of the store. */
async function singleLeadRecords(store: Store, writers: number): Promise<number> {
  const pool = leads(20_000);
  let done = 0;
  const until = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < until) {
        await store.recordScores(batch([pool[done % pool.length]!], done));
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

/** The same single-lead records with one transaction each, no grouping: the figure grouping is measured against. */
function ungroupedSqlite(file: string): number {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const insert = db.prepare(
    'INSERT INTO scores (mql_id, first_contact_date, landing_page_id, origin, probability, tier, model_version, scored_at, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const record = db.transaction((lead: ScoredLead, n: number) => insert.run(lead.mql_id, lead.first_contact_date, lead.landing_page_id, lead.origin, lead.probability, lead.tier, 'm', Date.now(), `r${n}`));
  const pool = leads(20_000);
  let done = 0;
  const started = performance.now();
  const until = started + SECONDS * 1000;
  while (performance.now() < until) record(pool[done % pool.length]!, done++);
  const rate = done / ((performance.now() - started) / 1000);
  db.close();
  return rate;
}

/** This process's CPU milliseconds: on a machine shared with other work, steadier than the wall clock. */
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function batchInsert(store: Store): Promise<{ wall: number[]; cpu: number[] }> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const scored = leads(10_000);
    const started = performance.now();
    const cpuStarted = cpuMs();
    await store.recordScores(batch(scored, round));
    wall.push(performance.now() - started);
    cpu.push(cpuMs() - cpuStarted);
  }
  return { wall, cpu };
}

async function exportRows(store: Store): Promise<{ rowsPerSecond: number; rowsPerCpuSecond: number; ms: number; heapBeforeMb: number; heapPeakMb: number; rssBeforeMb: number; rssPeakMb: number }> {
  let stored = 0;
  while (stored < EXPORT_ROWS) {
    const count = Math.min(10_000, EXPORT_ROWS - stored);
    await store.recordScores(batch(leads(count), stored));
    stored += count;
  }
  global.gc?.();
  const before = process.memoryUsage();
  let heapPeak = before.heapUsed;
  let rssPeak = before.rss;
  let rows = 0;
  const started = performance.now();
  const cpuStarted = cpuMs();
  for await (const chunk of store.exportPredictions({})) {
    rows += chunk.length;
    const now = process.memoryUsage();
    heapPeak = Math.max(heapPeak, now.heapUsed);
    rssPeak = Math.max(rssPeak, now.rss);
  }
  const ms = performance.now() - started;
  const cpu = cpuMs() - cpuStarted;
  if (rows < EXPORT_ROWS) throw new Error(`exported ${rows} rows, expected at least ${EXPORT_ROWS}`);
  return { rowsPerSecond: rows / (ms / 1000), rowsPerCpuSecond: rows / (cpu / 1000), ms, heapBeforeMb: mb(before.heapUsed), heapPeakMb: mb(heapPeak), rssBeforeMb: mb(before.rss), rssPeakMb: mb(rssPeak) };
}

/** A new node process loading the compiled store and opening it: import, connect, migrate. */
function coldOpen(location: StoreLocation): number {
  const entry = path.join(root, 'dist/src/store/index.js');
  const script = `const t = performance.now(); import(${JSON.stringify(entry)}).then((m) => m.openStore(${JSON.stringify(location)})).then(async (s) => { const ms = performance.now() - t; await s.close(); console.log(ms); })`;
  return Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim());
}

async function run(backend: Backend) {
  say(`${backend.name}: open + migrate, cold process (median of ${ROUNDS})`);
  const fresh: number[] = [];
  const existing: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const { location, drop } = await backend.fresh();
    fresh.push(coldOpen(location));
    existing.push(coldOpen(location));
    await drop();
  }

  const { location, drop } = await backend.fresh();
  const store = (await openStore(location))!;
  const result: Record<string, unknown> = {
    open_new_ms: Math.round(median(fresh)),
    open_existing_ms: Math.round(median(existing)),
  };
  for (const writers of [8, 64]) {
    say(`${backend.name}: single-lead records, ${writers} concurrent writers, ${SECONDS} s`);
    result[`single_records_per_s_${writers}`] = Math.round(await singleLeadRecords(store, writers));
  }
  if (backend.name === 'sqlite' && location.kind === 'sqlite') {
    say('sqlite: the same, one transaction per record (no grouping)');
    result.single_records_per_s_ungrouped = Math.round(ungroupedSqlite(location.path));
  }
  say(`${backend.name}: 10,000-lead batch, ${ROUNDS} rounds`);
  const batches = await batchInsert(store);
  result.batch_10000_ms = Math.round(median(batches.wall) * 10) / 10;
  result.batch_10000_ms_range = [Math.round(Math.min(...batches.wall)), Math.round(Math.max(...batches.wall))];
  result.batch_10000_cpu_ms = Math.round(median(batches.cpu) * 10) / 10; // this process only: PostgreSQL's own work is not in it
  await store.close();
  await drop();

  say(`${backend.name}: export of ${EXPORT_ROWS.toLocaleString('en')} stored scores`);
  const exportLocation = await backend.fresh();
  const exportStore = (await openStore(exportLocation.location))!;
  const exported = await exportRows(exportStore);
  await exportStore.close();
  await exportLocation.drop();
  Object.assign(result, {
    export_rows_per_s: Math.round(exported.rowsPerSecond),
    export_rows_per_cpu_s: Math.round(exported.rowsPerCpuSecond),
    export_ms: Math.round(exported.ms),
    export_heap_mb: [exported.heapBeforeMb, exported.heapPeakMb],
    export_rss_mb: [exported.rssBeforeMb, exported.rssPeakMb],
  });
  return result;
}

if (!existsSync(path.join(root, 'dist/src/store/index.js'))) {
  say('building (the cold-open figure loads the compiled store)');
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}
const results: Record<string, unknown> = { node: process.version, cpus: os.cpus().length, load_average: os.loadavg().map((l) => Math.round(l * 100) / 100) };
results.sqlite = await run(sqliteBackend());
const pgUrl = process.env.BENCH_POSTGRES_URL ?? process.env.TEST_POSTGRES_URL;
if (pgUrl) results.postgres = await run(postgresBackend(pgUrl));
else say('postgres: skipped (set BENCH_POSTGRES_URL or TEST_POSTGRES_URL)');
results.load_average_after = os.loadavg().map((l) => Math.round(l * 100) / 100);
writeFileSync(path.resolve(root, args.out!), `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));

// CI check of a real PostgreSQL outage: stop the server under the store, see 503-type errors, start it, see writes resume by themselves.
// Run by .ci/run with TEST_POSTGRES_URL and PG_DIR (the folder scripts/ci/postgres.sh started the server in).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, StoreUnavailableError, type ScoreBatch } from '../../src/store/index.js';

const url = process.env.TEST_POSTGRES_URL;
const dir = process.env.PG_DIR;
if (!url || !dir) {
  console.error('postgres-outage: needs TEST_POSTGRES_URL and PG_DIR (see .ci/run)');
  process.exit(2);
}
const control = (command: 'pause' | 'resume') => execFileSync('scripts/ci/postgres.sh', [command, dir], { stdio: ['ignore', 'ignore', 'inherit'] });
const say = (message: string) => console.log(`postgres-outage: ${message}`);
const fail = (message: string): never => {
  console.error(`postgres-outage: FAILED: ${message}`);
  process.exit(1);
};

const schema = `outage_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client(url);
await admin.connect();
await admin.query(`CREATE SCHEMA ${schema}`);
await admin.end();
const storeUrl = new URL(url);
storeUrl.searchParams.set('options', `-c search_path=${schema}`);
const backgroundErrors: string[] = [];
const store = (await openStore({ kind: 'postgres', url: storeUrl.toString() }, { onBackgroundError: (error) => backgroundErrors.push(error.message) }))!;
const batch = (n: number): ScoreBatch => ({
  request_id: `outage-${n}`,
  scored_at: new Date(),
  model_version: 'm',
  leads: Array.from({ length: 100 }, (_, i) => ({ mql_id: `o${n}-${i}`, first_contact_date: '2026-03-01', landing_page_id: 'p', origin: null, probability: 0.5, tier: 'A' as const })),
});

await store.recordScores(batch(1));
say('wrote a batch; stopping the server');
control('pause');

const started = performance.now();
const during = await Promise.allSettled([store.recordScores(batch(2)), store.listPredictions({}), store.labelledScores({})]);
const waited = performance.now() - started;
for (const result of during) {
  if (result.status !== 'rejected' || !(result.reason instanceof StoreUnavailableError)) fail(`expected StoreUnavailableError while stopped, got ${result.status === 'fulfilled' ? 'an answer' : result.reason}`);
}
const health = await store.health();
if (health.status !== 'down') fail('health says up while the server is stopped');
say(`while stopped: writes and reads fail with StoreUnavailableError in ${waited.toFixed(0)} ms, health down (${health.message}); ${backgroundErrors.length} idle connection(s) reported dropped`);

control('resume');
const resumed = performance.now();
await store.recordScores(batch(3)).catch((error) => fail(`the first write after the restart failed: ${error}`));
const back = await store.health();
if (back.status !== 'up') fail(`health still down after the restart: ${back.message}`);
const ids = new Set<string>();
for await (const chunk of store.exportPredictions({})) for (const p of chunk) ids.add(p.mql_id.split('-')[0]!);
if ([...ids].sort().join() !== 'o1,o3') fail(`expected batches 1 and 3 stored, found ${[...ids].sort().join()}`);
say(`after the restart: the first write succeeded (${(performance.now() - resumed).toFixed(0)} ms), health up, batches 1 and 3 stored, batch 2 (refused) absent`);
await store.close();

const cleanup = new pg.Client(url);
await cleanup.connect();
await cleanup.query(`DROP SCHEMA ${schema} CASCADE`);
await cleanup.end();
say('ok');

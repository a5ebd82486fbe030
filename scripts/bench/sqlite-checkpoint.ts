// npx tsx scripts/bench/sqlite-checkpoint.ts [--scores 1000000] [--batches 20]
// What the SQLite store's settings cost its writes once it holds many scores: stores filled alike,
// SQLite's defaults (the writer checkpoints every 1,000 WAL pages, a 2 MB page cache), the writer
// checkpointing every 10,000 pages with a 32 MB cache (the store before its checkpoint thread),
// then the store's own settings (a thread checkpoints every 3,000 scores as well); 1,000-lead batches are
// recorded into each in turn, timed, with the process's CPU (its threads too) over each batch.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { ScoreBatch } from '../../src/store/index.js';

const { values: args } = parseArgs({ options: { scores: { type: 'string', default: '1000000' }, batches: { type: 'string', default: '20' } } });
const SCORES = Number(args.scores);
const BATCHES = Number(args.batches);
const dir = mkdtempSync(path.join(os.tmpdir(), 'leadscore-checkpoint-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

let serial = 0;
/** Distinct leads with random-looking ids, as a CRM's are: each lands at a random place in the mql_id index. */
function batch(size: number, scoredAt: number): ScoreBatch {
  const leads = Array.from({ length: size }, () => {
    const n = serial++;
    const id = ((n * 2654435761) >>> 0).toString(16).padStart(8, '0') + n.toString(16).padStart(24, '0');
    return { mql_id: id, first_contact_date: '2018-03-01', landing_page_id: `page-${n % 400}`, origin: 'organic_search', probability: (n % 1000) / 1000, tier: 'B' as const };
  });
  return { request_id: `bench-${scoredAt}`, scored_at: new Date(scoredAt), model_version: 'bench', leads };
}

const noThread = Number.POSITIVE_INFINITY;
const settings = [
  { name: 'SQLite defaults (the writer checkpoints every 1,000 pages, 2 MB cache)', checkpointRows: noThread, checkpointPages: 1000, cacheKib: 2000 },
  { name: 'the writer checkpoints every 10,000 pages, 32 MB cache', checkpointRows: noThread, checkpointPages: 10_000, cacheKib: undefined },
  { name: 'the store (a thread checkpoints every 3,000 scores, the writer every 10,000 pages, 32 MB cache)', checkpointRows: undefined, checkpointPages: undefined, cacheKib: undefined },
];
const stores = settings.map((tuning, i) => ({ name: tuning.name, store: openSqliteStore(path.join(dir, `s${i}.db`), 'normal', {}, tuning) }));
const started = Date.now();
for (const { name, store } of stores) {
  for (let filled = 0; filled < SCORES; filled += 10_000) await store.recordScores(batch(10_000, started + filled));
  console.log(`${name}: filled with ${SCORES.toLocaleString('en')} scores`);
}
const timings = new Map<string, { ms: number[]; cpuMs: number[] }>(stores.map(({ name }) => [name, { ms: [], cpuMs: [] }]));
for (let b = 0; b < BATCHES; b++) {
  for (const { name, store } of stores) {
    const t = performance.now();
    const cpu = process.cpuUsage();
    await store.recordScores(batch(1000, Date.now()));
    const used = process.cpuUsage(cpu);
    timings.get(name)!.ms.push(performance.now() - t);
    timings.get(name)!.cpuMs.push((used.user + used.system) / 1000);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const first = timings.get(settings[0]!.name)!;
for (const [name, { ms, cpuMs }] of timings) {
  console.log(
    `${name}: 1,000-lead batch median ${median(ms).toFixed(1)} ms, mean ${mean(ms).toFixed(1)} ms (${(mean(ms) / mean(first.ms)).toFixed(2)}×), max ${Math.max(...ms).toFixed(1)} ms; ` +
      `CPU ${(mean(cpuMs)).toFixed(1)} ms per batch (${(mean(cpuMs) / mean(first.cpuMs)).toFixed(2)}×)`,
  );
}
for (const { store } of stores) await store.close();

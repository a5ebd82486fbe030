// npx tsx scripts/bench/sqlite-checkpoint.ts [--scores 1000000] [--batches 20]
// What the WAL's checkpoint limit costs the SQLite store's writes once it holds many scores: two
// stores filled alike, one checkpointing every 1,000 WAL pages (SQLite's default), one every
// 10,000 (the store's), then 1,000-lead batches recorded into each in turn, timed.
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

const stores = [1000, 10_000].map((pages) => ({ pages, store: openSqliteStore(path.join(dir, `p${pages}.db`), 'normal', {}, pages) }));
const started = Date.now();
for (const { pages, store } of stores) {
  for (let filled = 0; filled < SCORES; filled += 10_000) await store.recordScores(batch(10_000, started + filled));
  console.log(`checkpoint every ${pages} pages: filled with ${SCORES.toLocaleString('en')} scores`);
}
const timings = new Map<number, number[]>(stores.map(({ pages }) => [pages, []]));
for (let b = 0; b < BATCHES; b++) {
  for (const { pages, store } of stores) {
    const t = performance.now();
    await store.recordScores(batch(1000, Date.now()));
    timings.get(pages)!.push(performance.now() - t);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [pages, ms] of timings) {
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  console.log(`checkpoint every ${pages} pages: 1,000-lead batch median ${median(ms).toFixed(1)} ms, mean ${mean.toFixed(1)} ms, max ${Math.max(...ms).toFixed(1)} ms`);
}
const [slow, fast] = [...timings.values()].map((ms) => ms.reduce((a, b) => a + b, 0));
console.log(`mean time per batch, 10,000 pages vs 1,000: ${(fast! / slow!).toFixed(2)}×`);
for (const { store } of stores) await store.close();

// npx tsx scripts/bench/sqlite-reads.ts [scores=1000000]: how long the dashboards' reads take on a
// SQLite store of that many scores, and the longest the event loop (the thread that answers
// requests) went without a turn meanwhile, timed by a 1 ms interval timer.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/index.js';
import { longestBlockDuring } from './harness.js';

const scores = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(path.join(tmpdir(), 'leadscore-reads-'));
try {
  const source = path.join(dir, 'store.db');
  const store = (await openStore({ kind: 'sqlite', path: source, synchronous: 'normal' }))!;
  const tiers = ['A', 'B', 'C', 'D'] as const;
  for (let b = 0; b * 1000 < scores; b++) {
    const leads = Array.from({ length: Math.min(1000, scores - b * 1000) }, (_, i) => {
      const n = b * 1000 + i;
      return { mql_id: `lead-${n}`, first_contact_date: '2026-01-01', landing_page_id: `page-${n % 40}`, origin: n % 5 ? 'organic_search' : null, probability: (n % 100) / 100, tier: tiers[n % 4]! };
    });
    await store.recordScores({ request_id: `r${b}`, scored_at: new Date(Date.UTC(2025, 6, 1) + b * 600_000), model_version: 'm', leads });
  }
  await store.recordOutcomes(Array.from({ length: 5000 }, (_, i) => ({ mql_id: `lead-${i * 7}`, won_date: '2026-02-01', converted: true })));
  const time = async (name: string, f: () => Promise<unknown>) => {
    const { ms, longestBlockMs } = await longestBlockDuring(f);
    console.log(`${name.padEnd(40)} ${ms.toFixed(0).padStart(6)} ms, longest event-loop block ${longestBlockMs.toFixed(0)} ms`);
  };
  for (let round = 0; round < 2; round++) {
    await time('summary day, unfiltered', () => store.summarize({}, 'day'));
    await time('summary month, tier A', () => store.summarize({ tiers: ['A'] }, 'month'));
    await time('list page 100, unfiltered', () => store.listPredictions({}));
    await time('list page 100, tier A + origin', () => store.listPredictions({ tiers: ['A'], origin: 'organic_search' }));
    await time('list page 100, outcome converted', () => store.listPredictions({ outcome: 'converted' }));
    await time('live quality (/model/performance)', () => store.labelledScores({}));
    await time('one lead (/predictions/{mql_id})', () => store.getLead('lead-500000'));
    for (const [name, filter] of [
      ['CSV export, tier A (first 20,000 rows)', { tiers: ['A'] as const }],
      ['CSV export, converted (every row)', { outcome: 'converted' as const }],
    ] as const) {
      await time(name, async () => {
        let rows = 0;
        // A turn of the event loop between chunks, as the route's response stream gives it.
        for await (const chunk of store.exportPredictions({ ...filter, tiers: 'tiers' in filter ? [...filter.tiers] : undefined })) {
          if ((rows += chunk.length) >= 20_000) break;
          await new Promise((resolve) => setImmediate(resolve));
        }
      });
    }
  }
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

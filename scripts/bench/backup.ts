// npx tsx scripts/bench/backup.ts [scores=100000]: how long `npm run backup` takes on a SQLite store of that many scores.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { backupSqlite } from '../../src/store/backup.js';
import { openStore } from '../../src/store/index.js';

const scores = Number(process.argv[2] ?? 100_000);
/** This process's CPU and that of its children once they have exited (the copy runs in one), from /proc, in ms. */
const cpuMs = () => {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0) * 10;
};
const dir = mkdtempSync(path.join(tmpdir(), 'leadscore-backup-bench-'));
try {
  const source = path.join(dir, 'store.db');
  const store = (await openStore({ kind: 'sqlite', path: source, synchronous: 'normal' }))!;
  for (let b = 0; b * 1000 < scores; b++) {
    const leads = Array.from({ length: Math.min(1000, scores - b * 1000) }, (_, i) => {
      const n = b * 1000 + i;
      return { mql_id: `lead-${n}`, first_contact_date: '2026-01-01', landing_page_id: `page-${n % 40}`, origin: n % 5 ? 'organic_search' : null, probability: (n % 100) / 100, tier: 'B' as const };
    });
    await store.recordScores({ request_id: `r${b}`, scored_at: new Date(Date.UTC(2026, 0, 1) + b * 60_000), model_version: 'm', leads });
  }
  await store.close();
  for (let run = 0; run < 3; run++) {
    const started = performance.now();
    const cpu = cpuMs();
    const copy = await backupSqlite(source, path.join(dir, `copy-${run}.db`));
    console.log(`${copy.scores} scores (${(statSync(source).size / 1e6).toFixed(1)} MB): ${(performance.now() - started).toFixed(0)} ms, ${cpuMs() - cpu} ms of CPU (this process and the copying one); the copy ${(copy.bytes / 1e6).toFixed(1)} MB`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

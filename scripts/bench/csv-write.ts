// tsx scripts/bench/csv-write.ts [rows]: rows/s of the scores-CSV writer against csv-stringify with the
// same formula neutralisation, on realistic 32-character hex ids (the decision in src/data/csv-write.ts).
import { stringify } from 'csv-stringify/sync';
import { scoresCsvRows, type ScoreRow } from '../../src/data/csv-write.js';
import { seededRandom } from '../../src/model/metrics.js';

const count = Number(process.argv[2] ?? 100_000);
const random = seededRandom(1);
const hex = () => Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
const rows: ScoreRow[] = Array.from({ length: count }, () => ({ mql_id: hex(), probability: random() / 3, tier: 'ABCD'[Math.floor(random() * 4)]! }));
const version = '20261129.992a9f22';

const writers: Record<string, () => string> = {
  'scoresCsvRows (ours)': () => scoresCsvRows(rows, version),
  'csv-stringify/sync, escape_formulas': () => stringify(rows.map((r) => [r.mql_id, r.probability, r.tier, version]), { escape_formulas: true }),
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const times: Record<string, number[]> = Object.fromEntries(Object.keys(writers).map((name) => [name, []]));
let bytes = 0;
for (let round = 0; round < 11; round++) {
  // Alternating, so a noisy neighbour slows both alike.
  for (const [name, write] of Object.entries(writers)) {
    const cpu = process.cpuUsage(); // CPU time, not wall time: what a busy neighbour takes is not counted
    bytes += write().length;
    const used = process.cpuUsage(cpu);
    times[name]!.push((used.user + used.system) / 1000);
  }
}
for (const [name, ms] of Object.entries(times)) {
  console.log(`${name}: ${Math.round((count / median(ms)) * 1000).toLocaleString('en-US')} rows/s (CPU time, median of 11 runs of ${count.toLocaleString('en-US')} rows)`);
}
if (!bytes) throw new Error('nothing written');

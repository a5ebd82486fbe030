// npx tsx scripts/bench/quality.ts: the live-quality figures' cost on synthetic leads. The metric
// functions of /model/performance on 100,000 and 1,000,000 leads; /model/compare's bootstrap at
// once and in turns, with the longest the event loop went without a turn meanwhile (timed by a
// 1 ms interval timer).
import { compareModels, compareModelsInTurns } from '../../src/model/compare.js';
import { brierScore, calibrationTable, logLoss, prAuc, rocAuc } from '../../src/model/metrics.js';
import type { Tier } from '../../src/model/tiers.js';
import { longestBlockDuring } from './harness.js';

for (const n of [100_000, 1_000_000]) {
  const probabilities = new Float64Array(n).map(() => Math.round(Math.random() * 1e6) / 1e6);
  const labels = new Uint8Array(n).map((_, i) => (Math.random() < probabilities[i]! * 0.3 ? 1 : 0));
  for (let round = 0; round < 3; round++) {
    const started = performance.now();
    rocAuc(labels, probabilities);
    prAuc(labels, probabilities);
    brierScore(labels, probabilities);
    logLoss(labels, probabilities);
    calibrationTable(labels, probabilities);
    console.log(`/model/performance's metrics on ${n} leads: ${(performance.now() - started).toFixed(0)} ms`);
  }
}
for (const n of [10_000, 50_000]) {
  const a = new Float64Array(n).map(() => Math.random());
  const b = a.map((x) => Math.min(1, Math.max(0, x + (Math.random() - 0.5) * 0.1)));
  const l = new Uint8Array(n).map((_, i) => (Math.random() < a[i]! * 0.3 ? 1 : 0));
  const tiers = { champion: Array<Tier>(n).fill('A'), challenger: Array<Tier>(n).fill('B') };
  for (const [name, f] of [['at once', async () => compareModels(l, a, b, tiers)], ['in turns', () => compareModelsInTurns(l, a, b, tiers)]] as const) {
    const { ms, longestBlockMs } = await longestBlockDuring(f);
    console.log(`${n} leads, 1000 resamples, ${name}: ${ms.toFixed(0)} ms, longest event-loop block ${longestBlockMs.toFixed(0)} ms`);
  }
}

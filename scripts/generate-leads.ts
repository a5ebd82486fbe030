// npm run generate-leads -- <rows> [--out leads.csv]: a synthetic MQL CSV of any size, for load and scale checks.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { seededRandom } from '../src/model/metrics.js';
import { LEAD_COLUMNS } from '../src/features/lead.js';
import { loadArtifact } from '../src/model/artifact.js';
import { projectRoot } from '../src/server/config.js';
import path from 'node:path';

const { values: args, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string' }, seed: { type: 'string', default: '1' } } });
const rows = Number(positionals[0] ?? 1000);
const random = seededRandom(Number(args.seed));
// Real categories from the shipped model, plus a few it never saw, so every code path runs.
const { artifact } = await loadArtifact(path.join(projectRoot(), 'artifacts'));
const categories = (feature: string) => artifact.pipeline.steps.find((s) => s.feature === feature)?.categories.filter((c) => !c.startsWith('(')) ?? [];
const pages = [...categories('landing_page_id'), 'new-landing-page-1', 'new-landing-page-2'];
const origins = [...categories('origin'), '', 'new_channel'];
const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)]!;
const hex = () => Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
const out = args.out ? createWriteStream(args.out) : process.stdout;
let chunk = `${LEAD_COLUMNS.join(',')}\n`;
for (let i = 0; i < rows; i++) {
  const day = new Date(Date.UTC(2017, 5, 1) + Math.floor(random() * 365) * 86_400_000).toISOString().slice(0, 10);
  chunk += `${hex()},${day},${pick(pages)},${pick(origins)}\n`;
  if (chunk.length > 1 << 16) {
    if (!out.write(chunk)) await once(out, 'drain');
    chunk = '';
  }
}
out.end(chunk);

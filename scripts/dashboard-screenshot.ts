// npm run dashboard:screenshot -- [--data <olist folder>] [--out docs/dashboard.png]: the README's picture of
// the dashboard, taken in headless Chromium from a real service (shipped model, SQLite store, API keys on)
// that has seen the last 30 days of the Olist data as if they were the last 30 days.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DATASET_URL, DEALS_FILE, loadOlist } from '../src/data/olist.js';
import { isoDay } from '../src/features/lead.js';
import { loadArtifact } from '../src/model/artifact.js';
import { buildApp, servingModel } from '../src/server/app.js';
import { loadConfig, projectRoot } from '../src/server/config.js';
import { openStore } from '../src/store/index.js';
import { CHROMIUM, launchChromium } from './chromium.js';

const DAY = 86_400_000;
const { values: args } = parseArgs({ options: { data: { type: 'string', default: '../shared/data/olist' }, out: { type: 'string', default: 'docs/dashboard.png' }, days: { type: 'string', default: '30' }, width: { type: 'string', default: '1280' } } });
const days = Number(args.days);
const fail = (message: string) => {
  console.error(`dashboard:screenshot: ${message}`);
  process.exit(1);
};
if (!Number.isInteger(days) || days < 1) fail(`--days must be a whole number of days, not ${JSON.stringify(args.days)}`);
if (!existsSync(args.data!)) fail(`no Olist data in ${path.resolve(args.data!)}: download it from ${DATASET_URL} and pass --data <folder>`);
if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} is missing: apt-get install -y chromium`);

const READ_KEY = 'dashboard-reader-0123456789abcdef';
const CRM_KEY = 'crm-scores-and-deals-0123456789';
const config = loadConfig({ API_KEYS: `${READ_KEY}:read,${CRM_KEY}:score+outcomes`, LOG_LEVEL: 'silent' });
const { artifact } = await loadArtifact(path.join(projectRoot(), 'artifacts'));
const model = servingModel(artifact);

// The data's last `days` days of first contacts, moved so that its last day is today.
const { leads } = await loadOlist(args.data!);
const lastDay = leads.map((lead) => isoDay(lead.first_contact_date)).sort().at(-1)!;
const offset = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()) - Date.parse(`${lastDay}T00:00:00Z`);
const byDay = new Map<string, typeof leads>();
for (const lead of leads) {
  const day = isoDay(lead.first_contact_date);
  if (Date.parse(`${lastDay}T00:00:00Z`) - Date.parse(`${day}T00:00:00Z`) >= days * DAY) continue;
  byDay.set(day, [...(byDay.get(day) ?? []), lead]);
}
const replayDays = [...byDay.keys()].sort();

const dir = mkdtempSync(path.join(tmpdir(), 'leadscore-screenshot-'));
const store = (await openStore({ kind: 'sqlite', path: path.join(dir, 'scores.db'), synchronous: 'normal' }))!;
const app = await buildApp({ config, model, logger: false, store });
const base = await app.listen({ host: '127.0.0.1', port: 0 });
const post = async (url: string, body: string, type = 'application/json') => {
  const response = await fetch(`${base}${url}`, { method: 'POST', headers: { 'content-type': type, authorization: `Bearer ${CRM_KEY}` }, body });
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
};
const fields = ({ mql_id, first_contact_date, landing_page_id, origin }: (typeof leads)[number]) => ({ mql_id, first_contact_date, landing_page_id, origin });

try {
  // Earlier days go straight into the store, stamped with the day they stand for (an API call is
  // always stamped now); today's leads go through the API, one by one and in a batch, as a CRM sends them.
  for (const day of replayDays.slice(0, -1)) {
    const scoredAt = new Date(Date.parse(`${day}T09:00:00Z`) + offset);
    await store.recordScores({
      request_id: `replay-${day}`,
      scored_at: scoredAt,
      model_version: artifact.model_version,
      leads: byDay.get(day)!.map((lead) => ({ ...fields(lead), ...model.scorer.rate(lead) })),
    });
  }
  const today = byDay.get(replayDays.at(-1)!)!;
  for (const lead of today.slice(0, 10)) await post('/predict', JSON.stringify(fields(lead)));
  await post('/batch-predict', JSON.stringify({ leads: today.slice(10).map(fields) }));
  // The closed deals, as Olist's file is, for live quality.
  await post('/outcomes', readFileSync(path.join(args.data!, DEALS_FILE), 'utf8'), 'text/csv');

  const browser = await launchChromium({ width: Number(args.width), height: 900 });
  try {
    const page = await browser.context.newPage();
    await page.goto(`${base}/dashboard`);
    await page.fill('#key-input', READ_KEY);
    await page.press('#key-input', 'Enter');
    await page.locator('body[data-loaded="1"]').waitFor();
    mkdirSync(path.dirname(args.out!), { recursive: true });
    await page.screenshot({ path: args.out!, fullPage: true });
  } finally {
    await browser.close();
  }
  // Flat colours quantize without a visible change: pngquant (Debian's package), when installed, takes 290 kB to about 105 kB.
  try {
    execFileSync('pngquant', ['--quality', '80-95', '--speed', '1', '--skip-if-larger', '--force', '--output', args.out!, '--', args.out!]);
  } catch (error) {
    const { code, status } = error as NodeJS.ErrnoException & { status?: number };
    if (code === 'ENOENT') console.warn('pngquant is not installed: the picture stays as Chromium wrote it (apt-get install pngquant makes it about a third)');
    else if (status !== 98 && status !== 99) throw error; // 98, 99: not smaller, or not within the quality asked: kept as it was
  }
  const scored = replayDays.reduce((sum, day) => sum + byDay.get(day)!.length, 0);
  console.log(`${args.out}: ${Math.round(statSync(args.out!).size / 1024)} KB, the dashboard after ${scored} leads (first contact ${replayDays[0]} … ${lastDay}, replayed as the last ${days} days) and the closed deals`);
} finally {
  await app.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}

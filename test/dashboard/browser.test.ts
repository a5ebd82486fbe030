// The dashboard as a person sees it: headless Chromium loads the page from a real server with API
// keys on, the key is typed into the page, and every panel is read back from the rendered page.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, servingModel } from '../../src/server/app.js';
import { openStore, type Store } from '../../src/store/index.js';
import { CHROMIUM, launchChromium } from '../../scripts/chromium.js';
import { trainedFixture } from '../model/helpers.js';
import { keyFor, testConfig } from '../server/helper.js';

/** Kept as a CI artifact. */
const SCREENSHOT = process.env.DASHBOARD_SCREENSHOT ?? '.tmp/dashboard.png';
/** The page's key may only read; the CRM's key scores and reports outcomes. */
const READ_KEY = 'dashboard-read-key-0123456789';
const CRM_KEY = 'crm-score-outcomes-key-0123456789';
const hasChromium = existsSync(CHROMIUM);

if (!hasChromium && process.env.CI !== 'true') {
  console.warn(`\n  SKIPPED: the dashboard's browser test needs Chromium at ${CHROMIUM} (apt-get install -y chromium)\n`);
}

describe.runIf(!hasChromium && process.env.CI === 'true')('the dashboard in CI', () => {
  it('has Chromium to be tested in', () => {
    expect.fail(`${CHROMIUM} is missing: .ci/run installs it with apt-get install -y chromium`);
  });
});

/** What a page did: every request (with its Authorization header), console errors and uncaught exceptions. */
function watch(page: Page) {
  const requests: { url: string; authorization: string | undefined }[] = [];
  const errors: string[] = [];
  page.on('request', (request) => requests.push({ url: request.url(), authorization: request.headers().authorization }));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  return { requests, errors };
}

/** The aria-label of every mark a chart drew: Vega labels each mark with the data it shows. */
const markLabels = (page: Page, chart: string) =>
  page.locator(`[data-chart="${chart}"] svg g.role-mark > path`).evaluateAll((marks) => marks.map((mark) => mark.getAttribute('aria-label') ?? ''));

interface Server {
  app: FastifyInstance;
  base: string;
}

async function startServer(store: Store | null): Promise<Server> {
  const app = await buildApp({ config: testConfig({ apiKeys: [keyFor(READ_KEY, ['read']), keyFor(CRM_KEY, ['score', 'outcomes'])] }), model: servingModel(trainedFixture().outcome.artifact), logger: false, store });
  return { app, base: await app.listen({ host: '127.0.0.1', port: 0 }) };
}

describe.skipIf(!hasChromium)('the dashboard in Chromium', () => {
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let context: BrowserContext;
  let launching: ReturnType<typeof launchChromium> | undefined;
  let dir: string;
  let store: Store;
  let full: Server;
  let storeOff: Server;
  /** Enough leads for drift to judge (its minimum is 500), all from the training distribution. */
  const labelled = trainedFixture().leads.slice(0, 600);
  const leads = labelled.map(({ converted: _c, won_date: _w, ...lead }) => lead);

  const crm = (url: string, body: unknown) => fetch(`${full.base}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${CRM_KEY}` }, body: JSON.stringify(body) });

  beforeAll(async () => {
    // Fourteen hours ahead of UTC, so a page that mixed local and UTC days would miscount today's
    // leads most of the day. Chromium starts while the servers are filled.
    launching = launchChromium({ timezoneId: 'Pacific/Kiritimati' });
    launching.catch(() => {}); // awaited below; a failure is reported there
    dir = mkdtempSync(path.join(tmpdir(), 'leadscore-dashboard-'));
    store = (await openStore({ kind: 'sqlite', path: path.join(dir, 'scores.db'), synchronous: 'normal' }))!;
    [full, storeOff] = await Promise.all([startServer(store), startServer(null)]);
    // What the CRM does: single and batch scores, two bad requests, then the closed deals.
    const post = crm;
    for (const lead of leads.slice(0, 5)) expect((await post('/predict', lead)).status).toBe(200);
    expect((await post('/batch-predict', { leads: leads.slice(5) })).status).toBe(200);
    expect((await post('/predict', { mql_id: 'no-date' })).status).toBe(400);
    expect((await post('/predict', { mql_id: '' })).status).toBe(400);
    const deals = labelled.filter((lead) => lead.converted).map((lead) => ({ mql_id: lead.mql_id, won_date: lead.won_date }));
    expect((await post('/outcomes', { outcomes: deals })).status).toBe(200);

    browser = await launching;
    context = browser.context;
  }, 60_000);

  afterAll(async () => {
    // Closed even when the set-up failed before the launch was awaited.
    await (browser ?? (await launching?.catch(() => undefined)))?.close();
    await Promise.all([full?.app.close(), storeOff?.app.close()]);
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('asks for the key, draws every panel from the API with it, refreshes a minute later, and never puts the key in a URL', async () => {
    const page = await context.newPage();
    const seen = watch(page);
    await page.clock.install(); // the page's own minute passes when the test says, not in real time
    await page.goto(`${full.base}/dashboard`);
    await page.locator('#key-form').waitFor({ state: 'visible' });
    // With keys on and none typed yet, the page asks instead of sending requests that would be refused.
    expect(seen.requests.map((r) => new URL(r.url).pathname).filter((p) => !p.startsWith('/dashboard'))).toEqual([]);

    await page.fill('#key-input', READ_KEY);
    await page.press('#key-input', 'Enter');
    await page.locator('body[data-loaded="1"]').waitFor();

    for (const panel of ['model', 'leads', 'tier-a', 'quality', 'drift', 'requests']) expect(await page.getAttribute(`#${panel}`, 'data-state'), panel).toBe('ready');
    expect(await page.textContent('#model')).toContain(trainedFixture().outcome.artifact.model_version);

    // Every chart drew marks, and the marks carry the API's numbers.
    const api = async (url: string) => (await fetch(`${full.base}${url}`, { headers: { authorization: `Bearer ${READ_KEY}` } })).json();
    const tiers = await markLabels(page, 'tiersPerDay');
    expect(tiers).toHaveLength(30 * 4); // a bar per day and tier, zero-height where no lead came
    const drawn = (tier: string) => tiers.filter((label) => label.includes(`Tier: ${tier};`)).reduce((sum, label) => sum + Number(/Leads scored: (\d+)/.exec(label)![1]), 0);
    const [today] = (await api('/predictions/summary?interval=day')).buckets;
    for (const tier of ['A', 'B', 'C', 'D']) expect(drawn(tier), tier).toBe(today.tiers[tier]);
    expect(today.leads).toBe(leads.length);
    expect(await page.textContent('#leads dl')).toContain(`Today${leads.length}`);

    const performance = await api('/model/performance');
    const calibration = await markLabels(page, 'calibration');
    const points = (source: string) => calibration.filter((label) => label.includes(`source: ${source}`) && label.includes('leads:'));
    expect(points('Live')).toHaveLength(performance.calibration.filter((bin: { count: number }) => bin.count > 0).length);
    expect(points('Holdout')).toHaveLength(trainedFixture().outcome.artifact.metrics.holdout.calibration.filter((bin) => bin.count > 0).length);
    expect(await page.textContent('#quality')).toContain(performance.roc_auc.toFixed(3));

    const drift = await api('/model/drift');
    expect(drift.count).toBe(leads.length);
    const bars = (await markLabels(page, 'drift')).filter((label) => label.includes('status:'));
    expect(bars.map((label) => /feature: (\w+); status: (\w+)/.exec(label)!.slice(1).join(' '))).toEqual(drift.features.map((f: { feature: string; status: string }) => `${f.feature} ${f.status}`));

    const requests = await markLabels(page, 'requests');
    expect(requests).toContain('Requests: 5; route: POST /predict; Status: 2xx; status: 2xx');
    expect(requests).toContain('Requests: 2; route: POST /predict; Status: 4xx; status: 4xx');
    expect(requests).toContain('Requests: 1; route: POST /batch-predict; Status: 2xx; status: 2xx');
    expect(requests).toContain('Requests: 1; route: POST /outcomes; Status: 2xx; status: 2xx');

    const newestA = (await api('/predictions?tier=A&limit=10')).predictions;
    expect(newestA.length).toBeGreaterThan(0);
    expect(await page.locator('#tier-a tbody td:nth-child(2)').allTextContents()).toEqual(newestA.map((p: { mql_id: string }) => p.mql_id));

    expect(seen.errors).toEqual([]);
    // The key went in the Authorization header of every data call, and into no URL.
    const dataCalls = seen.requests.filter((r) => !new URL(r.url).pathname.startsWith('/dashboard'));
    expect(dataCalls.map((r) => new URL(r.url).pathname).sort()).toEqual(['/metrics', '/model', '/model/drift', '/model/performance', '/predictions', '/predictions/summary']);
    for (const call of dataCalls) expect(call.authorization, call.url).toBe(`Bearer ${READ_KEY}`);
    for (const request of seen.requests) expect(decodeURIComponent(request.url)).not.toContain(READ_KEY);
    expect(await page.evaluate(() => location.href)).not.toContain(READ_KEY);

    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // A minute later the page refreshes by itself, and the requests panel counts that minute's traffic alone.
    for (const lead of leads.slice(0, 3)) expect((await crm('/predict', lead)).status).toBe(200);
    await page.clock.fastForward(60_000);
    await page.locator('body[data-loaded="2"]').waitFor();
    expect(await page.textContent('#requests')).toContain('over the last minute');
    expect(await markLabels(page, 'requests')).toContain('Requests: 3; route: POST /predict; Status: 2xx; status: 2xx');
    expect(seen.errors).toEqual([]);

    // The key is kept for this tab: a reload needs no typing. Forgotten, it must be typed again, and a wrong one is refused.
    await page.reload();
    await page.locator('body[data-loaded="1"]').waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(1);
    await page.click('#forget-key');
    expect(await page.isVisible('#key-form')).toBe(true);
    expect(await page.isHidden('#panels')).toBe(true);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.fill('#key-input', 'not-the-key-0123456789');
    await page.press('#key-input', 'Enter');
    await page.locator('#key-message.error').waitFor();
    expect(await page.textContent('#key-message')).toContain('the API key is not valid');
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.close();
  });

  it('shows what it cannot show as not available when the store is off, and the rest as usual', async () => {
    const page = await context.newPage();
    const seen = watch(page);
    await page.goto(`${storeOff.base}/dashboard`);
    await page.fill('#key-input', READ_KEY);
    await page.press('#key-input', 'Enter');
    await page.locator('body[data-loaded="1"]').waitFor();
    for (const panel of ['leads', 'tier-a']) {
      expect(await page.getAttribute(`#${panel}`, 'data-state'), panel).toBe('unavailable');
      expect(await page.textContent(`#${panel}`)).toContain('Not available (store off)');
      expect(await page.textContent(`#${panel}`)).toContain('the score store is off (STORE_URL=none)');
    }
    // Live quality is not available, but the holdout figures and their calibration still are; drift is counted in memory.
    expect(await page.textContent('#quality')).toContain('Live quality not available (store off)');
    expect((await markLabels(page, 'calibration')).some((label) => label.includes('source: Holdout'))).toBe(true);
    expect(await page.getAttribute('#drift', 'data-state')).toBe('ready');
    expect(await page.textContent('#drift')).toContain('counted by this process: the store is off');
    expect(await markLabels(page, 'requests')).not.toEqual([]);
    // The only errors are the browser's own notes of the 404s the page expected and explained.
    expect(seen.errors.filter((error) => !error.includes('404'))).toEqual([]);
    await page.close();
  });
});

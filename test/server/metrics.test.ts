// /metrics: what was sent is what is counted, in a text a Prometheus parser reads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainedFixture } from '../model/helpers.js';
import { buildTestApp, keyFor, TEST_KEY, validLead, type TestApp } from './helper.js';
import { readScrape } from './scrape.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ apiKeys: [keyFor(TEST_KEY)] });
});
afterAll(() => t.app.close());

const auth = { authorization: `Bearer ${TEST_KEY}` };
const scrape = async () => readScrape((await t.app.inject({ url: '/metrics', headers: auth })).body);

describe('GET /metrics', () => {
  it('counts requests per route pattern and status, and scores per tier, exactly', async () => {
    const leads = trainedFixture().leads.slice(0, 137).map(({ converted: _c, won_date: _w, ...lead }) => lead);
    const singles = leads.slice(0, 12);
    const singleTiers: string[] = [];
    for (const lead of singles) singleTiers.push((await t.app.inject({ method: 'POST', url: '/predict', payload: lead, headers: auth })).json().tier);
    const batch = (await t.app.inject({ method: 'POST', url: '/batch-predict', payload: { leads }, headers: auth })).json();
    for (let i = 0; i < 3; i++) await t.app.inject({ method: 'POST', url: '/predict', payload: { mql_id: 'x' }, headers: auth }); // 400s
    await t.app.inject({ method: 'POST', url: '/predict', payload: validLead() }); // 401
    await t.app.inject({ url: '/no/such/page/0123456789' }); // 404

    const families = await scrape();
    const requests = (route: string, status: string) => families.value( 'http_request_duration_seconds', { route, status_code: status });
    expect(requests('/predict', '200')).toBe(12);
    expect(requests('/predict', '400')).toBe(3);
    expect(requests('/predict', '401')).toBe(1);
    expect(requests('/batch-predict', '200')).toBe(1);
    expect(requests('unmatched', '404')).toBe(1);
    const version = trainedFixture().outcome.artifact.model_version;
    const tiers = [...singleTiers, ...batch.predictions.map((p: { tier: string }) => p.tier)];
    for (const tier of ['A', 'B', 'C', 'D']) {
      expect(families.value('leadscore_predictions_total', { model_version: version, tier })).toBe(tiers.filter((x) => x === tier).length);
    }
    expect(families.value('leadscore_prediction_probability')).toBe(12 + 137);
    expect(families.value('leadscore_model_info', { model_version: version, sha256: trainedFixture().outcome.artifact.sha256 })).toBe(1);
    const names = families.families.map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds', 'leadscore_unseen_category_total', 'leadscore_model_reloads_total']));
    // No label value comes from the request.
    expect(JSON.stringify(families.samples)).not.toContain('0123456789');
    expect(JSON.stringify(families.samples)).not.toContain(leads[0]!.landing_page_id);
  });

  it('counts values the model never saw, per feature', async () => {
    const before = (await scrape()).value('leadscore_unseen_category_total', { feature: 'landing_page_id' });
    await t.app.inject({ method: 'POST', url: '/batch-predict', payload: { leads: [validLead({ landing_page_id: 'new-page' }), validLead({ landing_page_id: 'other-new-page', origin: 'tiktok' })] }, headers: auth });
    const families = await scrape();
    expect(families.value('leadscore_unseen_category_total', { feature: 'landing_page_id' })).toBe(before + 2);
    expect(families.value('leadscore_unseen_category_total', { feature: 'origin' })).toBeGreaterThanOrEqual(1);
  });

  it('needs the read role unless METRICS_PUBLIC', async () => {
    expect((await t.app.inject('/metrics')).statusCode).toBe(401);
    const open = await buildTestApp({ apiKeys: [keyFor(TEST_KEY)], metricsPublic: true });
    const response = await open.app.inject('/metrics');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    await open.app.close();
  });

  it('is absent, and nothing is counted, when the service runs without instrumentation (METRICS=false)', async () => {
    const bare = await buildTestApp({ metricsPublic: true }, { metrics: null });
    expect((await bare.app.inject({ method: 'POST', url: '/predict', payload: validLead() })).statusCode).toBe(200);
    expect((await bare.app.inject('/metrics')).statusCode).toBe(404);
    expect(bare.app.metrics).toBeNull();
    await bare.app.close();
  });
});

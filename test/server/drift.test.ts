// /model/drift on what the service scored: training-like traffic is stable, one channel is not, little traffic is no alarm.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { trainedFixture } from '../model/helpers.js';
import { buildTestApp, type TestApp } from './helper.js';
import { readScrape } from './scrape.js';

const leads = (from: number, to: number) => trainedFixture().leads.slice(from, to).map(({ converted: _c, won_date: _w, ...lead }) => lead);
const open: (TestApp | Store)[] = [];
afterEach(async () => {
  for (const item of open.splice(0)) await ('app' in item ? item.app.close() : item.close());
});

async function scoreAll(t: TestApp, batch: ReturnType<typeof leads>) {
  for (let at = 0; at < batch.length; at += 500) expect((await t.app.inject({ method: 'POST', url: '/batch-predict', payload: { leads: batch.slice(at, at + 500) } })).statusCode).toBe(200);
}
const statuses = async (t: TestApp) => {
  const body = (await t.app.inject('/model/drift')).json();
  return Object.fromEntries(body.features.map((f: { feature: string; status: string }) => [f.feature, f.status]));
};

describe('GET /model/drift', () => {
  it('reads training-like traffic as stable, counted in memory without a store', async () => {
    const t = await buildTestApp();
    open.push(t);
    await scoreAll(t, leads(0, 1500));
    const body = (await t.app.inject('/model/drift')).json();
    expect(body.window.source).toBe('memory');
    expect(body.count).toBe(1500);
    expect(await statuses(t)).toEqual({ origin: 'stable', landing_page_id: 'stable', score: 'stable' });
    // The gauges follow the same report.
    await t.app.refreshMonitoring();
    const scrape = readScrape((await t.app.inject('/metrics')).body);
    expect(scrape.value('leadscore_drift_psi', { feature: 'origin' })).toBeCloseTo(body.features[0].psi, 12);
  });

  it('reads a stream of one channel as significant drift of origin, and 100 leads as insufficient data', async () => {
    const t = await buildTestApp();
    open.push(t);
    await scoreAll(t, leads(0, 100));
    expect(await statuses(t)).toEqual({ origin: 'insufficient_data', landing_page_id: 'insufficient_data', score: 'insufficient_data' });
    await scoreAll(t, leads(100, 1000).map((lead) => ({ ...lead, origin: 'email' })));
    const body = (await t.app.inject('/model/drift')).json();
    const origin = body.features.find((f: { feature: string }) => f.feature === 'origin');
    expect(origin.status).toBe('significant');
    expect(origin.top_movers[0]).toMatchObject({ bin: 'email' });
    expect(origin.top_movers[0].observed).toBeGreaterThan(0.85);
  });

  it('counts from the store when there is one, so every replica reports the same', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'leadscore-drift-'));
    const store = (await openStore({ kind: 'sqlite', path: path.join(dir, 'scores.db'), synchronous: 'normal' }))!;
    const t = await buildTestApp({}, { store });
    open.push(t, store);
    await scoreAll(t, leads(0, 1200));
    const body = (await t.app.inject('/model/drift?window=2h')).json();
    expect(body.window.source).toBe('store');
    expect(body.count).toBe(1200);
    expect(await statuses(t)).toEqual({ origin: 'stable', landing_page_id: 'stable', score: 'stable' });
    expect((await t.app.inject('/model/drift?window=soon')).json().details[0].path).toBe('window');
    rmSync(dir, { recursive: true, force: true });
  });
});

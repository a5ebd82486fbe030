// The service with its memory: every score recorded, outcomes taken back, the dashboards' queries, live quality.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEAD_COLUMNS } from '../../src/features/lead.js';
import { brierScore, rocAuc } from '../../src/model/metrics.js';
import { servingModel } from '../../src/server/models.js';
import { openStore, StoreUnavailableError, type Store } from '../../src/store/index.js';
import { trainedFixture, variantArtifact } from '../model/helpers.js';
import { buildTestApp, keyFor, TEST_KEY, type TestApp } from './helper.js';
import { readScrape } from './scrape.js';

const OUTCOMES_ONLY = 'outcomes-only-key-0123456789';
const auth = { authorization: `Bearer ${TEST_KEY}` };
const leadsOf = (from: number, to: number) => trainedFixture().leads.slice(from, to).map(({ converted: _c, won_date: _w, ...lead }) => lead);

let dir: string;
let store: Store;
let t: TestApp;
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'leadscore-routes-'));
  store = (await openStore({ kind: 'sqlite', path: path.join(dir, 'scores.db'), synchronous: 'normal' }))!;
  t = await buildTestApp({ apiKeys: [keyFor(TEST_KEY), keyFor(OUTCOMES_ONLY, ['outcomes'])] }, { store });
});
afterAll(async () => {
  await t.app.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = (url: string, headers: Record<string, string> = auth) => t.app.inject({ url, headers });
const post = (url: string, payload: unknown, headers: Record<string, string> = {}) => t.app.inject({ method: 'POST', url, payload: payload as string, headers: { ...auth, ...headers } });

describe('scores are recorded', () => {
  it('keeps every lead scored by /predict and /batch-predict (JSON and CSV), and pages through them newest first', async () => {
    const leads = leadsOf(0, 250);
    for (const lead of leads.slice(0, 10)) expect((await post('/predict', lead)).statusCode).toBe(200);
    expect((await post('/batch-predict', { leads: leads.slice(10, 200) })).statusCode).toBe(200);
    const csv = [LEAD_COLUMNS.join(','), ...leads.slice(200).map((l) => [l.mql_id, l.first_contact_date, l.landing_page_id, l.origin ?? ''].join(','))].join('\n');
    const scored = await post('/batch-predict', csv, { 'content-type': 'text/csv' });
    expect(scored.statusCode).toBe(200);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await get(`/predictions?limit=64${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.statusCode).toBe(200);
      const body = page.json();
      seen.push(...body.predictions.map((p: { mql_id: string }) => p.mql_id));
      cursor = body.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(250);
    expect(new Set(seen)).toEqual(new Set(leads.map((l) => l.mql_id)));
    expect(seen.slice(0, 50).sort()).toEqual(leads.slice(200).map((l) => l.mql_id).sort()); // the CSV batch came last

    const stored = (await get(`/predictions/${leads[200]!.mql_id}`)).json();
    const returned = scored.json().predictions[0];
    expect(stored.current).toMatchObject({ probability: returned.probability, tier: returned.tier, model_version: scored.json().model_version, landing_page_id: leads[200]!.landing_page_id });
    expect(stored.current.request_id).toBe(scored.headers['x-request-id']);
  });

  it('filters by tier and answers an export as CSV of every matching row', async () => {
    const a = (await get('/predictions?tier=A&limit=1000')).json().predictions;
    const ab = (await get('/predictions?tier=a,B&limit=1000')).json().predictions;
    expect(a.every((p: { tier: string }) => p.tier === 'A')).toBe(true);
    expect(ab.length).toBeGreaterThan(a.length);
    const csv = await t.app.inject({ url: '/predictions?tier=A', headers: { ...auth, accept: 'text/csv' } });
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const [header, ...rows] = csv.body.trim().split('\n');
    expect(header).toBe('mql_id,first_contact_date,landing_page_id,origin,probability,tier,model_version,scored_at,outcome');
    expect(rows.map((row) => row.split(',')[0]).sort()).toEqual(a.map((p: { mql_id: string }) => p.mql_id).sort());
  });

  it('keeps history when a lead is scored again, and 404 for a lead never scored', async () => {
    const lead = leadsOf(0, 1)[0]!;
    await post('/predict', { ...lead, origin: 'paid_search' });
    const body = (await get(`/predictions/${lead.mql_id}`)).json();
    expect(body.current.origin).toBe('paid_search');
    expect(body.history).toHaveLength(1);
    const missing = await get('/predictions/never-seen');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().message).toBe('lead "never-seen" has never been scored');
  });

  it('names a bad query parameter', async () => {
    const response = await get('/predictions?tier=E&limit=5000&since=yesterday');
    expect(response.statusCode).toBe(400);
    expect(response.json().details.map((d: { path: string }) => d.path).sort()).toEqual(['limit', 'since', 'tier[0]']);
    const cursor = await get('/predictions?cursor=not-a-cursor');
    expect(cursor.statusCode).toBe(400);
    expect(cursor.json().details[0].path).toBe('cursor');
  });
});

describe('outcomes and live quality', () => {
  it('takes the closed-deals CSV as it is, idempotently, joins later leads, and measures the model on them', async () => {
    const fixture = trainedFixture().leads.slice(0, 250);
    const deals = fixture.filter((lead) => lead.converted);
    const csv = ['mql_id,seller_id,sdr_id,sr_id,won_date,business_segment', ...deals.map((d) => `${d.mql_id},s,sdr,sr,${d.won_date},pet`), 'not-scored-yet,s,sdr,sr,2018-05-01 10:00:00,pet'].join('\n');
    const first = await post('/outcomes', csv, { 'content-type': 'text/csv' });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ received: deals.length + 1, matched: deals.length, unmatched: 1, updated: deals.length + 1 });
    const again = await post('/outcomes', csv, { 'content-type': 'text/csv' });
    expect(again.json()).toMatchObject({ received: deals.length + 1, updated: 0 });

    const lost = fixture.filter((lead) => !lead.converted).map((lead) => ({ mql_id: lead.mql_id, won_date: null, converted: false }));
    expect((await post('/outcomes', { outcomes: lost })).json()).toMatchObject({ matched: lost.length, unmatched: 0 });

    // Live quality equals what the returned probabilities and the labels give, by the training code's metrics.
    const all = (await get('/predictions?limit=1000')).json().predictions as { mql_id: string; probability: number }[];
    const label = new Map(fixture.map((lead) => [lead.mql_id, lead.converted ? 1 : 0]));
    const scores = Float64Array.from(all, (p) => p.probability);
    const labels = Uint8Array.from(all, (p) => label.get(p.mql_id)!);
    const performance = (await get('/model/performance')).json();
    expect(performance.leads).toBe(250);
    expect(performance.converted).toBe(deals.length);
    expect(performance.roc_auc).toBeCloseTo(rocAuc(labels, scores), 9);
    expect(performance.brier).toBeCloseTo(brierScore(labels, scores), 9);
    expect(performance.holdout.rocAuc).toBe(trainedFixture().outcome.artifact.metrics.holdout.rocAuc);
    await t.app.refreshMonitoring();
    const live = readScrape((await get('/metrics')).body);
    const model_version = trainedFixture().outcome.artifact.model_version;
    expect(live.value('leadscore_live_roc_auc', { model_version })).toBeCloseTo(performance.roc_auc, 12);
    expect(live.value('leadscore_live_brier', { model_version })).toBeCloseTo(performance.brier, 12);

    const summary = (await get('/predictions/summary?interval=month')).json();
    expect(summary.buckets.reduce((sum: number, b: { leads: number }) => sum + b.leads, 0)).toBe(250);
    expect(summary.buckets.reduce((sum: number, b: { converted: number }) => sum + b.converted, 0)).toBe(deals.length);
    for (const bucket of summary.buckets) expect(bucket.tiers.A + bucket.tiers.B + bucket.tiers.C + bucket.tiers.D).toBe(bucket.leads);

    // The outcome posted before its lead was scored joins once it is.
    await post('/predict', { mql_id: 'not-scored-yet', first_contact_date: '2018-04-20', landing_page_id: fixture[0]!.landing_page_id, origin: 'email' });
    expect((await get('/predictions/not-scored-yet')).json().outcome).toMatchObject({ status: 'converted', converted: true });
  });

  it('has no live-quality series until the served model has leads with a known outcome: a 0 would fire the low-AUC alert', async () => {
    const own = await openStore({ kind: 'sqlite', path: path.join(dir, 'live.db'), synchronous: 'normal' });
    const fresh = await buildTestApp({}, { store: own });
    const live = async () => {
      await fresh.app.refreshMonitoring();
      return readScrape((await fresh.app.inject('/metrics')).body).samples.filter((s) => s.name.startsWith('leadscore_live_'));
    };
    try {
      expect(await live()).toEqual([]);
      const today = new Date().toISOString().slice(0, 10); // within the outcome horizon: unknown until the CRM says
      for (const id of ['won', 'lost']) expect((await fresh.app.inject({ method: 'POST', url: '/predict', payload: { ...leadsOf(0, 1)[0], mql_id: id, first_contact_date: today } })).statusCode).toBe(200);
      expect(await live()).toEqual([]);
      await fresh.app.inject({ method: 'POST', url: '/outcomes', payload: { outcomes: [{ mql_id: 'won', won_date: today }, { mql_id: 'lost', converted: false }] } });
      const model_version = trainedFixture().outcome.artifact.model_version;
      expect((await live()).map((s) => [s.name, s.labels])).toEqual([
        ['leadscore_live_roc_auc', { model_version }],
        ['leadscore_live_brier', { model_version }],
      ]);
    } finally {
      await fresh.app.close();
      await own!.close();
    }
  });

  it('names a bad outcome by index or CSV line, and needs the outcomes role', async () => {
    const bad = await post('/outcomes', { outcomes: [{ mql_id: 'a', won_date: '2018-01-01' }, { mql_id: '', won_date: 'soon' }] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().details.map((d: { path: string }) => d.path)).toEqual(['outcomes[1].mql_id', 'outcomes[1].won_date']);
    const csv = await post('/outcomes', 'mql_id,won_date\na,2018-01-01\nb,someday\n', { 'content-type': 'text/csv' });
    expect(csv.json().details).toEqual([{ path: 'outcomes[1].won_date', line: 3, message: expect.stringMatching(/won_date must be .*\(CSV line 3\)$/) }]);
    const reader = await t.app.inject({ method: 'POST', url: '/outcomes', payload: { outcomes: [{ mql_id: 'a', won_date: null }] }, headers: { authorization: `Bearer ${OUTCOMES_ONLY}` } });
    expect(reader.statusCode).toBe(200);
    expect((await get('/predictions', { authorization: `Bearer ${OUTCOMES_ONLY}` })).statusCode).toBe(403);
  });
});

describe('champion and challenger', () => {
  it('stores the challenger’s score beside the champion’s, returns only the champion’s, and compares them on outcomes', async () => {
    const challenger = variantArtifact('challenger', -0.4);
    t.app.models.setChallenger(servingModel(challenger));
    const leads = leadsOf(300, 700);
    const response = (await post('/batch-predict', { leads })).json();
    expect(response.model_version).toBe(trainedFixture().outcome.artifact.model_version);
    const history = (await get(`/predictions/${leads[0]!.mql_id}`)).json();
    expect(history.current.challenger).toMatchObject({ model_version: challenger.model_version });
    expect(history.current.challenger.probability).not.toBe(history.current.probability);
    const fixture = trainedFixture().leads.slice(300, 700);
    await post('/outcomes', { outcomes: fixture.map((lead) => ({ mql_id: lead.mql_id, won_date: lead.won_date ?? null, converted: lead.converted })) });
    const compare = (await get('/model/compare?resamples=200')).json();
    t.app.models.setChallenger(null);
    expect(compare.leads).toBe(400);
    expect(compare.challenger_versions).toEqual([challenger.model_version]);
    // Only the intercept moved: the ranking, hence the AUC, is the same; the calibration is not.
    expect(compare.roc_auc.difference).toBeCloseTo(0, 12);
    expect(compare.brier.difference).not.toBe(0);
    expect(compare.brier.interval[0]).toBeLessThanOrEqual(compare.brier.difference);
    expect(compare.brier.interval[1]).toBeGreaterThanOrEqual(compare.brier.difference);
    expect(compare.tier_changes).toBeGreaterThan(0);
  });
});

describe('when the store is off or down', () => {
  it('answers the store routes with 404 saying the store is off', async () => {
    const off = await buildTestApp({ apiKeys: [keyFor(TEST_KEY)] });
    for (const url of ['/predictions', '/predictions/summary', '/predictions/x', '/model/performance', '/model/compare']) {
      const response = await off.app.inject({ url, headers: auth });
      expect(response.statusCode, url).toBe(404);
      expect(response.json().message).toMatch(/the score store is off \(STORE_URL=none\)/);
    }
    expect((await off.app.inject({ method: 'POST', url: '/predict', payload: leadsOf(0, 1)[0], headers: auth })).statusCode).toBe(200);
    await off.app.close();
  });

  it('breaks off a CSV export the store fails half-way, so the download fails instead of ending as a short file', async () => {
    await post('/batch-predict', { leads: leadsOf(0, 30) });
    // The store gives its first chunk of rows, then fails: a PostgreSQL read that timed out, a connection cut.
    const failing: Store = Object.create(store, {
      exportPredictions: {
        value: async function* (...args: Parameters<Store['exportPredictions']>) {
          for await (const chunk of store.exportPredictions(args[0], { ...args[1], chunkSize: 10 })) {
            yield chunk;
            throw new StoreUnavailableError('the store is unavailable: Query read timeout');
          }
        },
      },
    });
    const app = await buildTestApp({ apiKeys: [keyFor(TEST_KEY)] }, { store: failing });
    try {
      const base = await app.app.listen({ host: '127.0.0.1', port: 0 });
      const response = await fetch(`${base}/predictions`, { headers: { ...auth, accept: 'text/csv' } });
      expect(response.status).toBe(200); // the rows had begun to go out before the store failed
      await expect(response.text()).rejects.toThrow();
    } finally {
      await app.app.close();
    }
  });

  it('answers an export the store cannot begin with 503 and Retry-After, not a 200 that breaks off after the header', async () => {
    const unreachable: Store = Object.create(store, {
      exportPredictions: {
        // eslint-disable-next-line require-yield
        value: async function* () {
          throw new StoreUnavailableError('the store is unavailable: connect ECONNREFUSED', { retryAfterSeconds: 5 });
        },
      },
    });
    const app = await buildTestApp({ apiKeys: [keyFor(TEST_KEY)] }, { store: unreachable });
    try {
      const response = await app.app.inject({ url: '/predictions', headers: { ...auth, accept: 'text/csv' } });
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('5');
      expect(response.headers['content-disposition']).toBeUndefined();
      expect(response.json().message).toMatch(/store is unavailable/);
    } finally {
      await app.app.close();
    }
  });

  it('cuts off a CSV download whose client takes nothing for the read limit, so stalled clients cannot hold every export', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'leadscore-stall-'));
    const own = (await openStore({ kind: 'sqlite', path: path.join(dir, 'scores.db'), synchronous: 'normal' }))!;
    // More than a Unix socket's buffers hold (some 200 KB), so a client that does not read stalls the export.
    const many = Array.from({ length: 6000 }, (_, i) => ({ mql_id: `stalled-${i}`, first_contact_date: '2018-02-01', landing_page_id: `page-${i % 50}`, origin: 'organic_search', probability: 0.25, tier: 'B' as const }));
    await own.recordScores({ request_id: 'r', scored_at: new Date(), model_version: 'm', leads: many });
    const app = await buildTestApp({ storeReadTimeoutMs: 1000 }, { store: own });
    const socketPath = path.join(dir, 'api.sock');
    try {
      // The server's side of each connection: a paused client does not see its end.
      let cutOff = 0;
      let allCut!: () => void;
      const threeCut = new Promise<void>((resolve) => (allCut = resolve));
      app.app.server.on('connection', (socket: Socket) => socket.once('close', () => ++cutOff === 3 && allCut()));
      await app.app.listen({ path: socketPath });
      // Three clients ask for the export and never read a byte: every export the store runs at once.
      const stalled = Array.from({ length: 3 }, () => {
        const socket = connect(socketPath);
        socket.write('GET /predictions HTTP/1.1\r\nhost: x\r\naccept: text/csv\r\n\r\n');
        socket.pause();
        return socket;
      });
      // Each is cut off once it has taken nothing for the limit, and gives its export back.
      await threeCut;
      for (const socket of stalled) socket.destroy();
      const fourth = await new Promise<string>((resolve, reject) => {
        const socket = connect(socketPath);
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk) => (text += chunk));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
        socket.write('GET /predictions HTTP/1.1\r\nhost: x\r\naccept: text/csv\r\nconnection: close\r\n\r\n');
      });
      expect(fourth).toMatch(/^HTTP\/1\.1 200/);
      expect(fourth.match(/\nstalled-\d+,/g)).toHaveLength(6000);
    } finally {
      await app.app.close();
      await own.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tells a dashboard whose read ran past the read limit what to do, and to wait the limit before retrying', async () => {
    const slow: Store = Object.create(store, {
      summarize: { value: async () => Promise.reject(new StoreUnavailableError('canceling statement due to statement timeout', { retryAfterSeconds: 60, advice: 'the read ran past STORE_READ_TIMEOUT_MS (60000 ms) and was cancelled: narrow it (since, until, filters) or raise the limit' })) },
    });
    const app = await buildTestApp({ apiKeys: [keyFor(TEST_KEY)] }, { store: slow });
    try {
      const response = await app.app.inject({ url: '/predictions/summary?interval=day', headers: auth });
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('60');
      expect(response.json().message).toBe('the score store is unavailable; the read ran past STORE_READ_TIMEOUT_MS (60000 ms) and was cancelled: narrow it (since, until, filters) or raise the limit; retry after 60 s');
    } finally {
      await app.app.close();
    }
  });

  it('refuses to score with 503 and Retry-After when the store cannot record, and /health says so', async () => {
    const closedDir = mkdtempSync(path.join(tmpdir(), 'leadscore-down-'));
    const down = (await openStore({ kind: 'sqlite', path: path.join(closedDir, 'scores.db'), synchronous: 'normal' }))!;
    const app = await buildTestApp({}, { store: down });
    await down.close(); // every later call is refused as unavailable
    const response = await app.app.inject({ method: 'POST', url: '/predict', payload: leadsOf(0, 1)[0] });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toMatch(/^\d+$/);
    expect(response.json().message).toMatch(/^the score store is unavailable; nothing was recorded/);
    const read = await app.app.inject('/predictions');
    expect(read.statusCode).toBe(503);
    expect(read.json().message).toBe('the score store is unavailable; retry after 5 s'); // a read recorded nothing to begin with
    const health = await app.app.inject('/health');
    expect(health.statusCode).toBe(503);
    expect(health.json()).toMatchObject({ status: 'store_unavailable', store: { status: 'down' } });
    await app.app.close();
    rmSync(closedDir, { recursive: true, force: true });
  });
});

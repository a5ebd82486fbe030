import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { parse } from 'csv-parse/sync';
import { LEAD_COLUMNS } from '../../src/features/lead.js';
import { scoreLeads } from '../../src/model/training.js';
import { FORMULA_PAYLOADS } from '../fixtures/csv.js';
import { trainedFixture } from '../model/helpers.js';
import { buildTestApp, keyFor, TEST_KEY, validLead, type TestApp } from './helper.js';

const run = promisify(execFile);

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ maxBatch: 50, bodyLimit: 64 * 1024 });
});
afterAll(() => t.app.close());

const post = (url: string, payload: unknown, headers: Record<string, string> = {}) => t.app.inject({ method: 'POST', url, payload: payload as string, headers });

function expectError(response: { statusCode: number; json(): unknown }, status: number, message: RegExp) {
  expect(response.statusCode).toBe(status);
  const body = response.json() as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(expect.arrayContaining(['error', 'message', 'statusCode']));
  expect(body.statusCode).toBe(status);
  expect(body.message).toMatch(message);
  expect(JSON.stringify(body)).not.toMatch(/at .*\.(ts|js):\d+/); // no stack trace
  return body;
}

describe('POST /predict', () => {
  it('scores a lead with probability, tier, model version and reasons', async () => {
    const response = await post('/predict', validLead({ crm_owner: 'ignored' }));
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(Object.keys(body).sort()).toEqual(['explanation', 'model_version', 'mql_id', 'probability', 'tier']);
    expect(body.model_version).toBe(trainedFixture().outcome.artifact.model_version);
    expect(body.probability).toBeGreaterThan(0);
    expect(body.probability).toBeLessThan(1);
    expect(['A', 'B', 'C', 'D']).toContain(body.tier);
    expect(body.explanation.map((c: { feature: string }) => c.feature).sort()).toEqual(['landing_page_id', 'origin']);
  });

  it('treats a null, empty or absent origin the same', async () => {
    const probabilities = await Promise.all(
      [{ origin: null }, { origin: '' }, { origin: undefined }].map(async (o) => (await post('/predict', validLead(o))).json().probability),
    );
    expect(new Set(probabilities).size).toBe(1);
  });

  it('accepts ISO date-times and scores unseen categories', async () => {
    const response = await post('/predict', validLead({ first_contact_date: '2018-05-01T10:20:30Z', landing_page_id: 'brand-new-page', origin: 'tiktok' }));
    expect(response.statusCode).toBe(200);
    expect(response.json().explanation.map((c: { value: string }) => c.value)).toEqual(['(other)', '(other)']);
  });

  it('names each offending field', async () => {
    const body = expectError(await post('/predict', { mql_id: 5, first_contact_date: '2018-02-30' }), 400, /invalid body/);
    expect(body.details).toEqual([
      { path: 'mql_id', message: 'must be a string' },
      { path: 'first_contact_date', message: 'must be a real calendar date, YYYY-MM-DD or an ISO-8601 date-time' },
      { path: 'landing_page_id', message: 'is required' },
    ]);
  });

  it('rejects malformed JSON, a non-object body and an unsupported content type', async () => {
    expectError(await post('/predict', '{"mql_id": ', { 'content-type': 'application/json' }), 400, /not valid JSON/);
    expectError(await post('/predict', [1, 2]), 400, /invalid body/);
    expectError(await post('/predict', 'mql_id\nx', { 'content-type': 'text/csv' }), 415, /unsupported content type "text\/csv"; send application\/json$/);
    expectError(await post('/predict', 'hello', { 'content-type': 'text/plain' }), 415, /unsupported content type/);
  });

  it('refuses a body over BODY_LIMIT with the limit in the message', async () => {
    expectError(await post('/predict', validLead({ padding: 'x'.repeat(70 * 1024) })), 413, /BODY_LIMIT, 65536 bytes/);
  });
});

describe('POST /batch-predict', () => {
  const leads = () => trainedFixture().leads.slice(0, 40).map(({ converted, won_date, ...lead }) => lead);

  it('scores each lead in order, with the same bits as /predict and training', async () => {
    const response = await post('/batch-predict', { leads: leads() });
    expect(response.statusCode).toBe(200);
    const { model_version, predictions } = response.json();
    expect(model_version).toBe(trainedFixture().outcome.artifact.model_version);
    expect(predictions.map((p: { mql_id: string }) => p.mql_id)).toEqual(leads().map((l) => l.mql_id));
    const training = scoreLeads(trainedFixture().outcome.final, leads());
    for (const [i, lead] of leads().entries()) {
      expect(predictions[i].probability).toBe(training[i]);
      if (i < 5) expect((await post('/predict', lead)).json().probability).toBe(training[i]);
    }
  });

  it('reads CSV and answers CSV when asked, with the same numbers', async () => {
    const csv = [LEAD_COLUMNS.join(','), ...leads().map((l) => [l.mql_id, l.first_contact_date, l.landing_page_id, l.origin ?? ''].join(','))].join('\n');
    const json = await post('/batch-predict', csv, { 'content-type': 'text/csv' });
    expect(json.statusCode).toBe(200);
    const asCsv = await post('/batch-predict', csv, { 'content-type': 'text/csv', accept: 'text/csv' });
    expect(asCsv.headers['content-type']).toMatch(/^text\/csv/);
    const [header, ...rows] = asCsv.body.trim().split('\n');
    expect(header).toBe('mql_id,probability,tier,model_version');
    const training = scoreLeads(trainedFixture().outcome.final, leads());
    rows.forEach((row, i) => {
      const [id, probability, tier, version] = row.split(',');
      expect(id).toBe(leads()[i]!.mql_id);
      expect(Number(probability)).toBe(training[i]);
      expect(Number(probability)).toBe(json.json().predictions[i].probability);
      expect(tier).toBe(json.json().predictions[i].tier);
      expect(version).toBe(json.json().model_version);
    });
  });

  it('neutralises ids a spreadsheet would run as formulas in CSV answers', async () => {
    const ids = [...FORMULA_PAYLOADS, 'lead-1'];
    const response = await post('/batch-predict', { leads: ids.map((mql_id) => validLead({ mql_id })) }, { accept: 'text/csv' });
    expect(response.statusCode).toBe(200);
    const records = parse(response.body, { columns: true }) as { mql_id: string; probability: string }[];
    expect(records.map((r) => r.mql_id)).toEqual([...FORMULA_PAYLOADS.map((id) => `'${id}`), 'lead-1']);
    expect(new Set(records.map((r) => r.probability)).size).toBe(1);
  });

  it('rejects the whole batch and lists every bad lead by index', async () => {
    const batch = leads().slice(0, 20);
    batch[3] = { ...batch[3]!, first_contact_date: '2018-13-01' };
    batch[17] = { ...batch[17]!, landing_page_id: '' };
    const body = expectError(await post('/batch-predict', { leads: batch }), 400, /leads\[3\]\.first_contact_date, leads\[17\]\.landing_page_id/);
    expect((body.details as { path: string }[]).map((d) => d.path)).toEqual(['leads[3].first_contact_date', 'leads[17].landing_page_id']);
  });

  it('names the CSV line of a bad row, and a missing column', async () => {
    const csv = `${LEAD_COLUMNS.join(',')}\na,2018-01-01,p,social\nb,2018-02-30,p,social\n`;
    const body = expectError(await post('/batch-predict', csv, { 'content-type': 'text/csv' }), 400, /leads\[1\]\.first_contact_date/);
    expect((body.details as { message: string }[])[0]!.message).toMatch(/\(CSV line 3\)$/);
    expectError(await post('/batch-predict', 'mql_id,origin\na,social\n', { 'content-type': 'text/csv' }), 400, /^CSV body:1: the header lacks column\(s\) first_contact_date, landing_page_id/);
    expectError(await post('/batch-predict', `${LEAD_COLUMNS.join(',')}\na,2018-01-01\n`, { 'content-type': 'text/csv' }), 400, /1 CSV row\(s\) do not have as many fields as the header/);
    expectError(await post('/batch-predict', `${LEAD_COLUMNS.join(',')}\n"a,2018-01-01,p,x\n`, { 'content-type': 'text/csv' }), 400, /^CSV body:2: cannot read the CSV/);
  });

  it('refuses an empty batch, an oversized batch and a missing leads field', async () => {
    expectError(await post('/batch-predict', { leads: [] }), 400, /leads/);
    expectError(await post('/batch-predict', { leads: Array.from({ length: 51 }, () => validLead()) }), 413, /holds 51 leads; MAX_BATCH is 50/);
    expectError(await post('/batch-predict', { lead: validLead() }), 400, /leads/);
  });
});

describe('health, model and docs', () => {
  it('reports readiness with the model, and 503 once shutdown began', async () => {
    const local = await buildTestApp();
    const ready = await local.app.inject('/health');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ok', model: { version: trainedFixture().outcome.artifact.model_version, sha256: trainedFixture().outcome.artifact.sha256 } });
    expect(typeof ready.json().uptime_s).toBe('number');
    local.app.beginShutdown();
    const draining = await local.app.inject('/health');
    expect(draining.statusCode).toBe(503);
    expect(draining.json()).toEqual({ status: 'shutting_down' });
    expect((await local.app.inject('/health/live')).statusCode).toBe(200);
    await local.app.close();
  });

  it('describes the model without its weights', async () => {
    const body = (await t.app.inject('/model')).json();
    expect(body).toMatchObject({ model_version: trainedFixture().outcome.artifact.model_version, features: [{ feature: 'origin' }, { feature: 'landing_page_id' }] });
    expect(body.metrics.holdout.rocAuc).toBeGreaterThan(0.5);
    expect(JSON.stringify(body)).not.toContain('weights');
  });

  it('answers unknown routes with 404 in the error shape', async () => {
    expectError(await t.app.inject('/nowhere'), 404, /no route GET \/nowhere/);
    expectError(await t.app.inject({ method: 'GET', url: '/predict' }), 404, /no route GET \/predict/);
  });

  it('serves Swagger UI and the committed OpenAPI document', async () => {
    expect((await t.app.inject('/docs')).statusCode).toBe(200);
    const doc = (await t.app.inject('/docs/json')).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/predict', '/batch-predict', '/health', '/health/live', '/model']));
    // Generated in a process of its own (the bundled build), as `npm run openapi` does: the suite's files share their
    // worker's modules, and the schema registry then holds what other files' apps added to it.
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', "const { openApiYaml } = await import('./dist/server/openapi.js'); process.stdout.write(await openApiYaml());"]);
    expect(readFileSync('openapi.yaml', 'utf8')).toBe(stdout); // run `npm run openapi` after changing a schema
  });
});

describe('API keys', () => {
  let secured: TestApp;
  beforeAll(async () => {
    secured = await buildTestApp({ apiKeys: [keyFor(TEST_KEY), keyFor('second-key-0123456789')] });
  });
  afterAll(() => secured.app.close());

  it('requires a valid bearer key on scoring and model routes only', async () => {
    const server = secured.app.server;
    const missing = await request(server).post('/predict').send(validLead());
    expect(missing.status).toBe(401);
    expect(missing.body.message).toMatch(/missing API key/);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    expect((await request(server).post('/predict').set('authorization', 'Bearer wrong-key-0123456789').send(validLead())).body.message).toMatch(/not valid/);
    expect((await request(server).get('/model').set('authorization', TEST_KEY)).status).toBe(401); // no Bearer scheme
    expect((await request(server).post('/batch-predict').send({ leads: [validLead()] })).status).toBe(401);
    expect((await request(server).post('/predict').set('authorization', `Bearer ${TEST_KEY}`).send(validLead())).status).toBe(200);
    expect((await request(server).get('/model').set('authorization', 'Bearer second-key-0123456789')).status).toBe(200);
    expect((await request(server).get('/health')).status).toBe(200);
    expect((await request(server).get('/docs/json')).status).toBe(200);
  });
});

describe('logging and request ids', () => {
  it('echoes x-request-id and logs one line per request without the lead', async () => {
    const local = await buildTestApp();
    const lead = validLead();
    const response = await local.app.inject({ method: 'POST', url: '/batch-predict', payload: { leads: [lead, lead] }, headers: { 'x-request-id': 'crm-abc-123' } });
    expect(response.headers['x-request-id']).toBe('crm-abc-123');
    const generated = await local.app.inject('/health');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const lines = local.logLines().filter((line) => line.msg === 'request');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ reqId: 'crm-abc-123', method: 'POST', route: '/batch-predict', status: 200, batch_size: 2, model_version: trainedFixture().outcome.artifact.model_version });
    expect(typeof lines[0]!.duration_ms).toBe('number');
    expect(JSON.stringify(local.logLines())).not.toContain(String(lead.mql_id));
    await local.app.close();
  });
});

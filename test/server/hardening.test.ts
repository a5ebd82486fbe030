// Defects a production review found: each test here failed on the service before it was hardened.
import net from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEAD_COLUMNS } from '../../src/features/lead.js';
import { buildTestApp, keyFor, TEST_KEY, validLead, type TestApp } from './helper.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ maxBatch: 100, bodyLimit: 10 * 1024 * 1024 });
});
afterAll(() => t.app.close());

const csvOf = (rows: number) => {
  const lead = validLead();
  return `${LEAD_COLUMNS.join(',')}\n${`${lead.mql_id},${lead.first_contact_date},${lead.landing_page_id},${lead.origin}\n`.repeat(rows)}`;
};

describe('CSV bodies', () => {
  it('stops reading an oversized CSV at MAX_BATCH + 1 rows instead of parsing all of it', async () => {
    const text = csvOf(200_000); // ~13 MB would be parsed whole before
    let pulled = 0;
    const chunks = function* () {
      for (let at = 0; at < text.length; at += 16 * 1024) {
        pulled += 16 * 1024;
        yield text.slice(at, at + 16 * 1024);
      }
    };
    const big = await buildTestApp({ maxBatch: 100, bodyLimit: 64 * 1024 * 1024 });
    const response = await big.app.inject({ method: 'POST', url: '/batch-predict', payload: Readable.from(chunks()), headers: { 'content-type': 'text/csv' } });
    expect(response.statusCode).toBe(413);
    expect(response.json().message).toBe('the CSV body holds more than 100 leads; MAX_BATCH is 100');
    expect(response.headers.connection).toBe('close');
    expect(pulled).toBeLessThan(text.length / 10);
    await big.app.close();
  });

  it('refuses a CSV body over BODY_LIMIT while it streams', async () => {
    const small = await buildTestApp({ maxBatch: 100_000, bodyLimit: 4096 });
    const response = await small.app.inject({ method: 'POST', url: '/batch-predict', payload: csvOf(1000), headers: { 'content-type': 'text/csv' } });
    expect(response.statusCode).toBe(413);
    expect(response.json().message).toMatch(/larger than BODY_LIMIT, 4096 bytes/);
    await small.app.close();
  });

  it('caps the size of one CSV record, naming the line', async () => {
    const lead = validLead();
    const csv = `${LEAD_COLUMNS.join(',')}\n${lead.mql_id},${lead.first_contact_date},${lead.landing_page_id},${lead.origin}\n"${'x'.repeat(100_000)}",2018-01-01,p,social\n`;
    const response = await t.app.inject({ method: 'POST', url: '/batch-predict', payload: csv, headers: { 'content-type': 'text/csv' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toMatch(/^CSV body:3: cannot read the CSV: Max Record Size: .* 65536/);
  });

  it('carries the CSV line of a bad lead as a field of the error detail', async () => {
    const csv = `${LEAD_COLUMNS.join(',')}\na,2018-01-01,p,social\n"b\nwith a line break",2018-02-30,p,social\n`;
    const response = await t.app.inject({ method: 'POST', url: '/batch-predict', payload: csv, headers: { 'content-type': 'text/csv' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().details).toEqual([{ path: 'leads[1].first_contact_date', line: 4, message: expect.stringMatching(/\(CSV line 4\)$/) }]);
  });
});

describe('content negotiation and encodings', () => {
  const csv = () => csvOf(2);
  const batch = (accept: string) => t.app.inject({ method: 'POST', url: '/batch-predict', payload: csv(), headers: { 'content-type': 'text/csv', accept } });

  it('honours q-values and case in Accept, and says the answer varies by it', async () => {
    expect((await batch('text/csv;q=0, application/json')).headers['content-type']).toMatch(/^application\/json/);
    expect((await batch('TEXT/CSV')).headers['content-type']).toMatch(/^text\/csv/);
    expect((await batch('application/json;q=0.5, text/csv;q=0.9')).headers['content-type']).toMatch(/^text\/csv/);
    expect((await batch('*/*')).headers['content-type']).toMatch(/^application\/json/);
    expect((await batch('text/csv;q=0')).headers['content-type']).toMatch(/^application\/json/);
    expect((await batch('text/csv')).headers.vary).toMatch(/Accept/i);
    expect((await batch('application/json')).headers.vary).toMatch(/Accept/i);
  });

  it('refuses a body in a charset other than UTF-8 with 415', async () => {
    for (const [url, type, payload] of [
      ['/predict', 'application/json; charset=iso-8859-1', JSON.stringify(validLead())],
      ['/batch-predict', 'text/csv; charset=latin1', csv()],
    ] as const) {
      const response = await t.app.inject({ method: 'POST', url, payload, headers: { 'content-type': type } });
      expect(response.statusCode).toBe(415);
      expect(response.json().message).toMatch(/charset "(iso-8859-1|latin1)" is not supported; send UTF-8/);
    }
    const utf8 = await t.app.inject({ method: 'POST', url: '/predict', payload: JSON.stringify(validLead()), headers: { 'content-type': 'application/json; charset=UTF-8' } });
    expect(utf8.statusCode).toBe(200);
  });

  it('says what is wrong with a __proto__ key instead of calling the JSON invalid', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/predict', payload: `{"mql_id":"a","__proto__":{"admin":true}}`, headers: { 'content-type': 'application/json' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toMatch(/"__proto__" .* refused; rename that field/);
    const broken = await t.app.inject({ method: 'POST', url: '/predict', payload: '{"mql_id": ', headers: { 'content-type': 'application/json' } });
    expect(broken.json().message).toMatch(/^the body is not valid JSON/);
  });
});

describe('request ids', () => {
  it('gives the router’s own refusals a request id and a log line, as every other response has', async () => {
    const logged = await buildTestApp();
    for (const [url, status] of [['/predictions/%ZZ', 400], [`/predictions/${'L'.repeat(1200)}`, 414]] as const) {
      const response = await logged.app.inject({ url, headers: { 'x-request-id': `refused-${status}` } });
      expect(response.statusCode).toBe(status);
      expect(response.headers['x-request-id']).toBe(`refused-${status}`);
      expect(logged.logLines().filter((line) => line.reqId === `refused-${status}`)).toEqual([expect.objectContaining({ msg: 'request', method: 'GET', route: 'unknown', status })]);
    }
    await logged.app.close();
  });

  it('echoes a plain id and replaces an oversized or structured one', async () => {
    const echo = async (id: string) => (await t.app.inject({ url: '/health', headers: { 'x-request-id': id } })).headers['x-request-id'];
    expect(await echo('crm-abc-123')).toBe('crm-abc-123');
    for (const bad of ['x'.repeat(10_000), '{"user":"admin"}', 'a b', '']) {
      expect(await echo(bad)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
  });
});

describe('API keys and roles', () => {
  let secured: TestApp;
  const SCORE_ONLY = 'score-only-key-0123456789';
  beforeAll(async () => {
    secured = await buildTestApp({ apiKeys: [keyFor(TEST_KEY), keyFor(SCORE_ONLY, ['score'])] });
  });
  afterAll(() => secured.app.close());

  it('takes the Bearer scheme in any case', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const response = await secured.app.inject({ method: 'POST', url: '/predict', payload: validLead(), headers: { authorization: `${scheme} ${TEST_KEY}` } });
      expect(response.statusCode).toBe(200);
    }
  });

  it('answers 403 to a valid key without the route’s role', async () => {
    const model = await secured.app.inject({ url: '/model', headers: { authorization: `Bearer ${SCORE_ONLY}` } });
    expect(model.statusCode).toBe(403);
    expect(model.json().message).toBe('this API key lacks the role "read"');
    const scored = await secured.app.inject({ method: 'POST', url: '/predict', payload: validLead(), headers: { authorization: `Bearer ${SCORE_ONLY}` } });
    expect(scored.statusCode).toBe(200);
  });
});

describe('security headers', () => {
  it('sends helmet’s headers on the API, and Swagger UI still loads its own scripts', async () => {
    const api = await t.app.inject({ method: 'POST', url: '/predict', payload: validLead() });
    expect(api.headers['x-content-type-options']).toBe('nosniff');
    expect(api.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(api.headers['strict-transport-security']).toBeDefined();
    const docs = await t.app.inject('/docs/');
    expect(docs.statusCode).toBe(200);
    expect(docs.headers['content-security-policy']).toMatch(/script-src 'self'/);
    const script = await t.app.inject('/docs/static/swagger-initializer.js');
    expect(script.statusCode).toBe(200);
  });

  it('sends every one of them on errors too, with the API’s content policy', async () => {
    const HELMET = ['content-security-policy', 'cross-origin-opener-policy', 'cross-origin-resource-policy', 'origin-agent-cluster', 'referrer-policy', 'strict-transport-security', 'x-content-type-options', 'x-dns-prefetch-control', 'x-download-options', 'x-frame-options', 'x-permitted-cross-domain-policies', 'x-xss-protection'];
    const responses = [
      await t.app.inject({ method: 'POST', url: '/predict', payload: validLead() }),
      await t.app.inject({ method: 'POST', url: '/predict', payload: {} }),
      await t.app.inject('/no/such/route'),
      // The router's own refusals, which Fastify sends before any hook runs.
      await t.app.inject('/predictions/%ZZ'),
      await t.app.inject(`/predictions/${'L'.repeat(1200)}`),
    ];
    expect(responses.map((r) => r.statusCode)).toEqual([200, 400, 404, 400, 414]);
    for (const response of responses) {
      expect(Object.keys(response.headers)).toEqual(expect.arrayContaining(HELMET));
      expect(response.headers['content-security-policy']).toMatch(/^default-src 'none';.*frame-ancestors 'none'/);
      expect(response.headers['x-powered-by']).toBeUndefined();
    }
  });
});

describe('overload', () => {
  it('answers 503 with Retry-After while the event loop is saturated, and liveness still 200', async () => {
    const loaded = await buildTestApp({ maxEventLoopDelayMs: 30 }, { pressureSampleIntervalMs: 20 });
    // A saturated event loop, as a flood of CPU-bound requests makes it: busy for 100 ms at a time,
    // with one turn of the loop between, for as many rounds as the 20 ms samples take to see it. (One
    // block was flaky on a loaded machine: the sample could read the delay histogram before the
    // histogram's own timer had recorded the block, and the next sample was due only after the test.)
    let response = await loaded.app.inject({ method: 'POST', url: '/predict', payload: validLead() });
    for (let round = 0; round < 30 && response.statusCode !== 503; round++) {
      const busyUntil = Date.now() + 100;
      while (Date.now() < busyUntil);
      await new Promise((resolve) => setTimeout(resolve, 0)); // one turn: the timers of both run
      response = await loaded.app.inject({ method: 'POST', url: '/predict', payload: validLead() });
    }
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.json()).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'the server is overloaded; retry after 5 s' });
    expect((await loaded.app.inject('/health/live')).statusCode).toBe(200);
    await loaded.app.close();
  });
});

describe('slow clients', () => {
  it('cuts off uploads that stall, with 408, within REQUEST_TIMEOUT_MS', async () => {
    const slow = await buildTestApp({ requestTimeoutMs: 1000 });
    await slow.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = slow.app.server.address() as net.AddressInfo;
    const started = Date.now();
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () =>
        new Promise<string>((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1', () => {
            socket.write('POST /batch-predict HTTP/1.1\r\nhost: x\r\ncontent-type: text/csv\r\ncontent-length: 1000000\r\n\r\nmql_id,');
          });
          let answer = '';
          socket.on('data', (chunk) => (answer += chunk));
          socket.on('close', () => resolve(answer.split('\r\n')[0]!));
          socket.on('error', reject);
        }),
      ),
    );
    expect(outcomes).toEqual(Array(5).fill('HTTP/1.1 408 Request Timeout'));
    expect(Date.now() - started).toBeLessThan(5000);
    await slow.app.close();
  });

  it('caps the number of connections', async () => {
    const capped = await buildTestApp({ maxConnections: 7 });
    expect(capped.app.server.maxConnections).toBe(7);
    await capped.app.close();
  });
});

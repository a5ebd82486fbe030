// What clients send that a store could not keep as it was sent: refused with a 400 naming the field
// (or the body's line), the same on both backends. Run on SQLite by input-edges.test.ts and on
// PostgreSQL by test/store/postgres.test.ts, where each of these was a 500 or a silently changed id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/index.js';
import { buildTestApp, TEST_KEY, type TestApp } from './helper.js';

const auth = { authorization: `Bearer ${TEST_KEY}` };
const lead = (mqlId: string, origin: string | null = 'social') => ({ mql_id: mqlId, first_contact_date: '2018-03-01', landing_page_id: 'page-1', origin });

export function inputEdgeCases(backend: string, openStore: () => Promise<{ store: Store; close: () => Promise<void> }>): void {
  describe(`input a store could not keep as sent, on ${backend}`, () => {
    let t: TestApp;
    let opened: Awaited<ReturnType<typeof openStore>>;
    beforeAll(async () => {
      opened = await openStore();
      t = await buildTestApp({}, { store: opened.store });
    });
    afterAll(async () => {
      await t.app.close();
      await opened.close();
    });

    const get = (url: string, headers: Record<string, string> = {}) => t.app.inject({ url, headers: { ...auth, ...headers } });
    const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
      t.app.inject({ method: 'POST', url, payload: payload as string, headers: { 'content-type': 'application/json', ...auth, ...headers } });
    const refused = (response: Awaited<ReturnType<typeof get>>, path: string, message: RegExp) => {
      expect(response.statusCode, response.body).toBe(400);
      const body = response.json();
      expect(Object.keys(body).sort()).toEqual(['details', 'error', 'message', 'statusCode']);
      const detail = body.details.find((d: { path: string }) => d.path === path);
      expect(detail, JSON.stringify(body.details)).toBeDefined();
      expect(detail.message).toMatch(message);
    };
    const stored = async () => (await get('/predictions?limit=1000')).json().predictions.map((p: { mql_id: string }) => p.mql_id).sort();

    it('refuses a NUL character or an unpaired surrogate in any text it would store or look up, naming the field', async () => {
      const unstorable = /must not contain a NUL character or an unpaired UTF-16 surrogate/;
      refused(await post('/predict', lead('a\u0000b')), 'mql_id', unstorable);
      refused(await post('/predict', lead('lead-\ud800')), 'mql_id', unstorable);
      refused(await post('/batch-predict', { leads: [lead('fine-1'), lead('fine-2', 'so\u0000cial')] }), 'leads[1].origin', unstorable);
      refused(await post('/batch-predict', 'mql_id,first_contact_date,landing_page_id,origin\nfine-3,2018-03-01,page\u0000x,social\n', { 'content-type': 'text/csv' }), 'leads[0].landing_page_id', unstorable);
      refused(await post('/outcomes', { outcomes: [{ mql_id: 'a\u0000b', won_date: '2018-04-01' }] }), 'outcomes[0].mql_id', unstorable);
      refused(await get('/predictions?origin=a%00b'), 'origin', unstorable);
      refused(await get('/predictions/a%00b'), 'mql_id', unstorable);
      refused(await get('/model/performance?model_version=v%00'), 'model_version', unstorable);
      const v2 = await post('/v2/models/lead-conversion/infer', {
        inputs: [
          { name: 'mql_id', datatype: 'BYTES', shape: [1], data: ['v2\u0000lead'] },
          { name: 'first_contact_date', datatype: 'BYTES', shape: [1], data: ['2018-03-01'] },
          { name: 'landing_page_id', datatype: 'BYTES', shape: [1], data: ['page-1'] },
        ],
      });
      expect(v2.statusCode, v2.body).toBe(400);
      expect(v2.json().error).toMatch(/mql_id.*must not contain a NUL character/);
      expect(await stored()).toEqual([]);
    });

    it('refuses a body that is not UTF-8, naming its line, instead of storing a replacement character', async () => {
      // Latin-1 é and è: decoded leniently both were U+FFFD, and the two leads were stored as one.
      const json = Buffer.concat([Buffer.from('{"mql_id":\n"lat'), Buffer.from([0xe9]), Buffer.from('","first_contact_date":"2018-03-01","landing_page_id":"p"}')]);
      const response = await post('/predict', json);
      expect(response.statusCode).toBe(400);
      expect(response.json().message).toBe('the body is not valid UTF-8: on line 2, byte 15 is not UTF-8: send UTF-8 text (a file saved as Latin-1 or Windows-1252 must be converted first)');
      const csv = Buffer.concat([Buffer.from('mql_id,first_contact_date,landing_page_id,origin\nok-1,2018-03-01,p,social\nlat'), Buffer.from([0xe8]), Buffer.from(',2018-03-01,p,social\n')]);
      const batch = await post('/batch-predict', csv, { 'content-type': 'text/csv' });
      expect(batch.statusCode).toBe(400);
      expect(batch.json().message).toMatch(/^CSV body:3: byte \d+ is not UTF-8/);
      const outcomes = await post('/outcomes', Buffer.concat([Buffer.from('mql_id,won_date\nx'), Buffer.from([0xff]), Buffer.from(',2018-04-01\n')]), { 'content-type': 'text/csv' });
      expect(outcomes.statusCode).toBe(400);
      expect(outcomes.json().message).toMatch(/^CSV body:2: byte 17 is not UTF-8/);
      // UTF-8 of every width is kept as it was sent.
      expect((await post('/predict', Buffer.from(JSON.stringify(lead('läd-ü-€-𝄞'))))).json().mql_id).toBe('läd-ü-€-𝄞');
      expect(await stored()).toEqual(['läd-ü-€-𝄞']);
    });

    it('refuses instants either store cannot hold and dates JavaScript would roll over, on every route that takes them', async () => {
      const routes = ['/predictions', '/predictions/summary', '/model/performance', '/model/compare'];
      for (const route of routes) {
        refused(await get(`${route}?since=0000-01-01`), 'since', /since must be a real calendar date and time in years 0001–9999/);
        refused(await get(`${route}?until=${encodeURIComponent('9999-12-31T23:59:59-14:00')}`), 'until', /until must be/);
        refused(await get(`${route}?since=2026-02-30`), 'since', /since must be/);
        refused(await get(`${route}?since=${encodeURIComponent('2026-01-01T10:00:00+99:99')}`), 'since', /since must be/);
        expect((await get(`${route}?since=0001-01-01&until=${encodeURIComponent('9999-12-31T23:59:59Z')}`)).statusCode).toBe(200);
      }
    });

    it('refuses a cursor it never returned, as JSON and as CSV, and starts the CSV export after a real one', async () => {
      const forged = Buffer.from('9999999999999999:1').toString('base64url');
      refused(await get(`/predictions?cursor=${forged}`), 'cursor', /cursor is not a cursor this API returned/);
      refused(await get(`/predictions?cursor=${forged}`, { accept: 'text/csv' }), 'cursor', /cursor is not a cursor this API returned/);
      refused(await get(`/predictions?cursor=${Buffer.from('1:99999999999999999').toString('base64url')}`), 'cursor', /cursor is not/);
      await post('/batch-predict', { leads: ['c-1', 'c-2', 'c-3'].map((id) => lead(id)) });
      const first = (await get('/predictions?limit=1')).json();
      const [header, ...rest] = (await get(`/predictions?cursor=${first.next_cursor}`, { accept: 'text/csv' })).body.trim().split('\n');
      expect(header).toMatch(/^mql_id,/);
      const after = (await get(`/predictions?cursor=${first.next_cursor}`)).json().predictions.map((p: { mql_id: string }) => p.mql_id);
      expect(after).toContain('c-1');
      expect(after).not.toContain(first.predictions[0].mql_id);
      expect(rest.map((line) => line.split(',')[0])).toEqual(after);
    });

    it('finds a lead by any id it scored, up to 128 characters of any script', async () => {
      for (const id of ['L'.repeat(128), 'é'.repeat(128), '𝄞'.repeat(64), 'a/b?c#d e%f']) {
        expect((await post('/predict', lead(id))).statusCode).toBe(200);
        const found = await get(`/predictions/${encodeURIComponent(id)}`);
        expect(found.statusCode, id).toBe(200);
        expect(found.json().mql_id).toBe(id);
      }
      const tooLong = await get(`/predictions/${'L'.repeat(1200)}`);
      expect(tooLong.statusCode).toBe(414);
      expect(tooLong.json()).toEqual({ statusCode: 414, error: 'URI Too Long', message: 'a path segment is longer than 1152 characters; a lead id is at most 128 characters' });
      const badEscape = await get('/predictions/%ZZ');
      expect(badEscape.statusCode).toBe(400);
      expect(Object.keys(badEscape.json()).sort()).toEqual(['error', 'message', 'statusCode']);
    });

    it('matches outcomes to leads by the id exactly as scored, and refuses a won_date that is no real date', async () => {
      expect((await post('/predict', lead(' spaced '))).statusCode).toBe(200);
      expect((await post('/outcomes', { outcomes: [{ mql_id: ' spaced ', won_date: '2018-04-01' }] })).json()).toMatchObject({ matched: 1, unmatched: 0 });
      expect((await get(`/predictions/${encodeURIComponent(' spaced ')}`)).json().outcome).toMatchObject({ status: 'converted', won_date: '2018-04-01' });
      refused(await post('/outcomes', { outcomes: [{ mql_id: 'x', won_date: '2018-13-45 99:99:99' }] }), 'outcomes[0].won_date', /won_date must be a real calendar date/);
      refused(await post('/outcomes', { outcomes: [{ mql_id: 5, won_date: '2018-04-01' }] }), 'outcomes[0].mql_id', /mql_id must be a string/);
    });
  });
}

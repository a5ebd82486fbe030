// Whatever a client sends, the answer is a 200 or a 4xx in the error shape, never a 5xx.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from './helper.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ maxBatch: 20 });
});
afterAll(() => t.app.close());

function checkAnswer(response: { statusCode: number; json(): Record<string, unknown> }) {
  expect(response.statusCode === 200 || (response.statusCode >= 400 && response.statusCode < 500)).toBe(true);
  if (response.statusCode !== 200) {
    const body = response.json();
    expect(body.statusCode).toBe(response.statusCode);
    expect(typeof body.error).toBe('string');
    expect(typeof body.message).toBe('string');
  }
}

const leadShaped = fc.record(
  {
    mql_id: fc.oneof(fc.string({ maxLength: 140 }), fc.integer(), fc.constant(null)),
    first_contact_date: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
      fc.tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 14 }), fc.integer({ min: 0, max: 33 })).map(
        ([y, m, d]) => `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`,
      ),
      fc.string(),
    ),
    landing_page_id: fc.oneof(fc.string({ maxLength: 140 }), fc.constant(''), fc.double()),
    origin: fc.oneof(fc.constantFrom('social', 'email', '', 'unknown_channel'), fc.constant(null), fc.string(), fc.boolean()),
    extra: fc.anything(),
  },
  { requiredKeys: [] },
);

/** The Open Inference Protocol's routes answer errors in its own shape: { error } and nothing else. */
function checkV2Answer(response: { statusCode: number; json(): Record<string, unknown> }) {
  expect(response.statusCode === 200 || (response.statusCode >= 400 && response.statusCode < 500)).toBe(true);
  if (response.statusCode !== 200) {
    const body = response.json();
    expect(Object.keys(body)).toEqual(['error']);
    expect(typeof body.error).toBe('string');
  }
}

const columnShaped = fc.record(
  {
    name: fc.oneof(fc.constantFrom('mql_id', 'first_contact_date', 'landing_page_id', 'origin'), fc.string()),
    datatype: fc.oneof(fc.constant('BYTES'), fc.constantFrom('FP32', 'INT64', 'BOOL'), fc.string()),
    shape: fc.oneof(fc.array(fc.integer({ min: -2, max: 30 }), { maxLength: 3 }), fc.anything()),
    parameters: fc.oneof(fc.record({ content_type: fc.constantFrom('str', 'pd_json', 'np', 'base64') }), fc.dictionary(fc.string(), fc.jsonValue())),
    data: fc.oneof(fc.array(fc.oneof(fc.string(), fc.constant(null), fc.integer(), fc.array(fc.string(), { maxLength: 2 }), fc.jsonValue()), { maxLength: 25 }), fc.anything()),
  },
  { requiredKeys: [] },
);

describe('arbitrary input', () => {
  it('/v2/models/lead-conversion/infer never answers 5xx to tensor-shaped requests or JSON values', async () => {
    const request = fc.record(
      {
        id: fc.oneof(fc.string(), fc.integer()),
        parameters: fc.oneof(fc.record({ content_type: fc.constantFrom('pd', 'np', 'str') }), fc.jsonValue()),
        inputs: fc.oneof(fc.array(columnShaped, { maxLength: 6 }), fc.jsonValue()),
        outputs: fc.array(fc.record({ name: fc.oneof(fc.constantFrom('probability', 'tier', 'explanation'), fc.string()), parameters: fc.jsonValue() }, { requiredKeys: ['name'] }), { maxLength: 4 }),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(request, fc.jsonValue()), async (body) => {
        checkV2Answer(await t.app.inject({ method: 'POST', url: '/v2/models/lead-conversion/infer', payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } }));
      }),
      { numRuns: 300 },
    );
  });

  it('/predict never answers 5xx to any JSON value', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        checkAnswer(await t.app.inject({ method: 'POST', url: '/predict', payload: JSON.stringify(value), headers: { 'content-type': 'application/json' } }));
      }),
      { numRuns: 300 },
    );
  });

  it('/predict never answers 5xx to lead-shaped objects, and scores the valid ones', async () => {
    await fc.assert(
      fc.asyncProperty(leadShaped, async (lead) => {
        const response = await t.app.inject({ method: 'POST', url: '/predict', payload: lead });
        checkAnswer(response);
        if (response.statusCode === 200) expect(response.json().probability).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });

  it('/batch-predict never answers 5xx to arbitrary batches or JSON values', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.record({ leads: fc.array(leadShaped, { maxLength: 25 }) }), fc.jsonValue()), async (body) => {
        const response = await t.app.inject({ method: 'POST', url: '/batch-predict', payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
        checkAnswer(response);
        if (response.statusCode === 200) expect(response.json().predictions).toHaveLength((body as { leads: unknown[] }).leads.length);
      }),
      { numRuns: 300 },
    );
  });

  it('/batch-predict never answers 5xx to arbitrary CSV text', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), async (text) => {
        checkAnswer(await t.app.inject({ method: 'POST', url: '/batch-predict', payload: `mql_id,first_contact_date,landing_page_id,origin\n${text}`, headers: { 'content-type': 'text/csv' } }));
      }),
      { numRuns: 300 },
    );
  });
});

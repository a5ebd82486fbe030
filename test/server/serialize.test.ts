import { describe, expect, it } from 'vitest';
import { Scorer } from '../../src/model/scorer.js';
import { responseWriter } from '../../src/server/serialize.js';
import { trainedFixture } from '../model/helpers.js';

describe('responseWriter', () => {
  const scorer = new Scorer(trainedFixture().outcome.artifact);
  const write = responseWriter(scorer);
  const scored = trainedFixture()
    .leads.slice(0, 300)
    .map((lead, i) => ({ mql_id: i % 7 ? lead.mql_id : `quote "and" \\ back\nslash ü`, ...scorer.score(i % 5 ? lead : { ...lead, landing_page_id: 'unseen' }) }));

  it('writes what JSON.stringify writes for a prediction, to the last digit', () => {
    for (const s of scored) {
      const text = write.prediction(s);
      expect(JSON.parse(text)).toEqual({ mql_id: s.mql_id, probability: s.probability, tier: s.tier, model_version: scorer.version, explanation: s.explanation });
      expect(text).toContain(`"probability":${JSON.stringify(s.probability)}`);
    }
  });

  it('writes a batch as the documented object, in order', () => {
    expect(JSON.parse(write.batch(scored).toString())).toEqual({ model_version: scorer.version, predictions: scored.map((s) => ({ ...s, explanation: s.explanation })) });
    expect(JSON.parse(write.batch([]).toString())).toEqual({ model_version: scorer.version, predictions: [] });
  });

  it('grows its buffer for long multi-byte ids', () => {
    const wide = scored.slice(0, 3).map((s, i) => ({ ...s, mql_id: `${'€'.repeat(127)}${i}` }));
    expect(JSON.parse(write.batch(wide).toString('utf8')).predictions.map((p: { mql_id: string }) => p.mql_id)).toEqual(wide.map((s) => s.mql_id));
  });

  it('writes a V2 inference response as the protocol’s JSON, each explanation one JSON text', () => {
    const foreign = { feature: 'origin' as const, value: 'not "from" the table', contribution: 0.5 }; // a reason the table lacks takes the slow path
    const scores = [...scored.slice(0, 50), { ...scored[0]!, explanation: [foreign] }];
    const id = 'crm "7" \\ ü';
    const body = JSON.parse(write.inference({ id, outputs: ['tier', 'explanation', 'probability'], scores }).toString('utf8'));
    expect(body).toEqual({
      model_name: 'lead-conversion',
      model_version: scorer.version,
      id,
      parameters: { content_type: 'pd' },
      outputs: [
        { name: 'tier', datatype: 'BYTES', parameters: { content_type: 'str' }, shape: [51], data: scores.map((s) => s.tier) },
        { name: 'explanation', datatype: 'BYTES', parameters: { content_type: 'str' }, shape: [51], data: scores.map((s) => JSON.stringify(s.explanation)) },
        { name: 'probability', datatype: 'FP64', shape: [51], data: scores.map((s) => s.probability) },
      ],
    });
    expect(JSON.parse(write.inference({ id: 'x', outputs: ['probability'], scores: [] }).toString()).outputs).toEqual([{ name: 'probability', datatype: 'FP64', shape: [0], data: [] }]);
  });
});

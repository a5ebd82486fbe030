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
});

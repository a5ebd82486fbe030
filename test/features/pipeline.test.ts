import { describe, expect, it } from 'vitest';
import type { Lead } from '../../src/features/lead.js';
import { MISSING, OTHER, Pipeline } from '../../src/features/pipeline.js';

const lead = (landing_page_id: string, origin?: string | null, first_contact_date = '2018-02-05'): Lead => ({
  mql_id: `${landing_page_id}-${origin}`,
  first_contact_date,
  landing_page_id,
  origin,
});

const training = [lead('p1', 'social'), lead('p1', 'email'), lead('p2', 'social'), lead('p3', ''), lead('p1', null), lead('p2', undefined)];

describe('Pipeline', () => {
  it('learns sorted vocabularies, an explicit missing origin and a trailing other bucket', () => {
    const state = new Pipeline({ features: ['origin', 'landing_page_id'], minCategoryCount: 1 }).fit(training).toJSON();
    expect(state.steps).toEqual([
      { feature: 'origin', categories: [MISSING, 'email', 'social', OTHER] },
      { feature: 'landing_page_id', categories: ['p1', 'p2', 'p3', OTHER] },
    ]);
  });

  it('groups categories seen fewer than minCategoryCount times into other', () => {
    const pipeline = new Pipeline({ features: ['landing_page_id'], minCategoryCount: 2 }).fit(training);
    expect(pipeline.featureNames).toEqual(['landing_page_id=p1', 'landing_page_id=p2', `landing_page_id=${OTHER}`]);
    expect([...pipeline.transform(lead('p3'))]).toEqual([2]);
  });

  it('maps unseen categories to other instead of failing', () => {
    const pipeline = new Pipeline({ features: ['origin', 'landing_page_id'], minCategoryCount: 1 }).fit(training);
    // origin offset 0 (4 categories), landing pages from 4
    expect([...pipeline.transform(lead('never-seen', 'carrier_pigeon'))]).toEqual([3, 7]);
    expect([...pipeline.transform(lead('p2', '  '))]).toEqual([0, 5]);
  });

  it('encodes the weekday of the first contact', () => {
    const pipeline = new Pipeline({ features: ['weekday'], minCategoryCount: 1 }).fit([lead('p', 'x', '2018-02-05'), lead('p', 'x', '2018-02-06T10:00:00Z')]);
    expect(pipeline.featureNames).toEqual(['weekday=monday', 'weekday=tuesday', `weekday=${OTHER}`]);
    expect([...pipeline.transform(lead('p', 'x', '2018-02-11'))]).toEqual([2]);
  });

  it('lays all leads out as one flat index array', () => {
    const pipeline = new Pipeline({ features: ['origin', 'landing_page_id'], minCategoryCount: 1 }).fit(training);
    expect([...pipeline.transformAll(training.slice(0, 2))]).toEqual([2, 4, 1, 4]);
  });

  it('refuses to transform before it is fitted', () => {
    expect(() => new Pipeline({ features: ['origin'], minCategoryCount: 1 }).transform(lead('p'))).toThrow(/has not been fitted/);
  });

  it('round-trips through JSON and transforms identically', () => {
    const fitted = new Pipeline({ features: ['origin', 'landing_page_id', 'weekday'], minCategoryCount: 1 }).fit(training);
    const reloaded = Pipeline.fromJSON(JSON.parse(JSON.stringify(fitted)));
    for (const l of [...training, lead('new', 'new')]) expect(reloaded.transform(l)).toEqual(fitted.transform(l));
  });

  it('rejects a state whose steps disagree with its settings', () => {
    const state = new Pipeline({ features: ['origin'], minCategoryCount: 1 }).fit(training).toJSON();
    expect(() => Pipeline.fromJSON({ ...state, settings: { ...state.settings, features: ['landing_page_id'] } })).toThrow(/lists steps/);
    expect(() => Pipeline.fromJSON({ ...state, steps: [{ feature: 'origin', categories: ['social'] }] })).toThrow(/does not end with/);
  });
});

import { describe, expect, it } from 'vitest';
import { precisionRecallCurve, ratesBy, rocCurve, wilsonInterval, daysToClose, missingValues } from '../../src/report/analysis.js';
import { buildReport } from '../../src/report/report.js';
import { trainedFixture } from '../model/helpers.js';

const VOID = new Set(['meta', 'br', 'img', 'hr', 'input', 'link', 'path', 'rect', 'line', 'circle', 'use', 'stop']);

/** Every non-void element closes in order: enough to catch a broken template. */
function unbalancedTags(html: string): string[] {
  const stack: string[] = [];
  const problems: string[] = [];
  for (const match of html.replace(/<!--[\s\S]*?-->/g, '').matchAll(/<(\/?)([a-zA-Z][\w:-]*)([^>]*?)(\/?)>/g)) {
    const [, closing, rawName, , selfClosing] = match;
    const name = rawName!.toLowerCase();
    if (selfClosing || VOID.has(name)) continue;
    if (!closing) stack.push(name);
    else if (stack.pop() !== name) problems.push(`</${name}> at ${match.index}`);
  }
  return [...problems, ...stack.map((name) => `<${name}> never closed`)];
}

describe('buildReport', () => {
  it('is one well-formed, self-contained page with every section and one SVG per chart', async () => {
    const { leads, outcome } = trainedFixture();
    const html = await buildReport({ leads, rejectedRows: 2, artifact: outcome.artifact, generatedAt: new Date('2026-01-01T00:00:00Z') });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(unbalancedTags(html)).toEqual([]);
    for (const id of ['data', 'overview', 'missing', 'cardinality', 'monthly', 'origin', 'pages', 'time-to-close', 'model', 'features', 'coefficients', 'metrics', 'rolling-origin', 'tiers', 'limits', 'fingerprint']) {
      expect(html).toContain(`id="${id}"`);
    }
    // long tail, month, origin, pages, time to close, ROC, PR, calibration, gains, rolling origin
    expect(html.match(/<svg[\s>]/g)).toHaveLength(10);
    for (const month of outcome.artifact.metrics.rolling_origin.months) expect(html).toContain(`<td>${month.month}</td>`);
    expect(html).not.toMatch(/<(script|link|iframe|img)\b/i);
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/url\(\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/@import/);
    expect(html).toContain(outcome.artifact.model_version);
    expect(html).toContain('3,000'); // thousands separators for people
    expect(html).not.toMatch(/NaN|undefined/);
  });
});

describe('report analysis', () => {
  it('computes Wilson intervals', () => {
    // 10 successes in 100 trials: the textbook 95 % Wilson interval is 5.52 % to 17.44 %
    const { low, high } = wilsonInterval(10, 100);
    expect(low).toBeCloseTo(0.0552, 4);
    expect(high).toBeCloseTo(0.1744, 4);
    expect(wilsonInterval(0, 5).low).toBe(0);
  });

  it('groups conversion rates, counts missing values and days to close', () => {
    const leads = [
      { mql_id: 'a', first_contact_date: '2018-01-01', landing_page_id: 'p', origin: 'x', converted: true, won_date: '2018-01-11 10:00:00' },
      { mql_id: 'b', first_contact_date: '2018-01-05', landing_page_id: 'p', origin: '', converted: false },
      { mql_id: 'c', first_contact_date: '2018-02-01', landing_page_id: 'q', origin: null, converted: false },
    ];
    expect(ratesBy(leads, (l) => l.landing_page_id).map((g) => [g.group, g.leads, g.converted])).toEqual([['p', 2, 1], ['q', 1, 0]]);
    expect(missingValues(leads)).toEqual([
      { column: 'mql_id', missing: 0 },
      { column: 'first_contact_date', missing: 0 },
      { column: 'landing_page_id', missing: 0 },
      { column: 'origin', missing: 2 },
    ]);
    expect(daysToClose(leads)).toEqual([10]);
  });

  it('traces ROC and precision–recall curves at each distinct score', () => {
    const labels = [1, 0, 1, 0];
    const scores = [0.9, 0.8, 0.8, 0.1];
    expect(rocCurve(labels, scores)).toEqual([{ fpr: 0, tpr: 0 }, { fpr: 0, tpr: 0.5 }, { fpr: 0.5, tpr: 1 }, { fpr: 1, tpr: 1 }]);
    expect(precisionRecallCurve(labels, scores)).toEqual([{ recall: 0.5, precision: 1 }, { recall: 1, precision: 2 / 3 }, { recall: 1, precision: 0.5 }]);
  });
});

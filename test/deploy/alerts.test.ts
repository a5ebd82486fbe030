// The alerting example names only metrics the service exports, in expressions Prometheus can read.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ServiceMetrics } from '../../src/server/metrics.js';

const rules = parse(readFileSync('deploy/prometheus/alerts.yml', 'utf8')) as { groups: { name: string; rules: { alert: string; expr: string; for?: string; labels: Record<string, string>; annotations: Record<string, string> }[] }[] };

/** Names the registry exports, with the series a histogram adds. */
async function exportedNames(): Promise<Set<string>> {
  const metrics = new ServiceMetrics();
  const names = new Set<string>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_count', '_sum']) names.add(metric.name + suffix);
  }
  return names;
}

const PROMQL_WORDS = new Set(['sum', 'rate', 'by', 'le', 'max', 'histogram_quantile', 'increase', 'status_code', 'route', 'feature', 'outcome', 'without', 'avg', 'min']);

describe('deploy/prometheus/alerts.yml', () => {
  it('covers error rate, p99 latency, drift and live AUC, each with a severity and a summary', () => {
    const all = rules.groups.flatMap((group) => group.rules);
    const exprs = all.map((rule) => rule.expr).join('\n');
    for (const needed of ['status_code=~"5.."', 'histogram_quantile(0.99', 'leadscore_drift_psi', 'leadscore_live_roc_auc']) expect(exprs).toContain(needed);
    for (const rule of all) {
      expect(rule.alert).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(['page', 'ticket']).toContain(rule.labels.severity);
      expect(rule.annotations.summary).toBeTruthy();
      if (rule.for) expect(rule.for).toMatch(/^\d+[smhd]$/);
    }
  });

  it('names only metrics the service exports', async () => {
    const exported = await exportedNames();
    for (const rule of rules.groups.flatMap((group) => group.rules)) {
      const identifiers = [...rule.expr.replace(/\{[^}]*\}/g, '').replace(/\[[^\]]*\]/g, '').matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map((m) => m[0]);
      const metrics = identifiers.filter((name) => !PROMQL_WORDS.has(name));
      expect(metrics.length, rule.alert).toBeGreaterThan(0);
      for (const name of metrics) expect(exported.has(name), `${rule.alert}: ${name} is not exported`).toBe(true);
    }
  });
});

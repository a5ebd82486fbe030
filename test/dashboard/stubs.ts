// The dashboards' API as its contract describes it, for a server built without the score store's routes.
import type { FastifyInstance } from 'fastify';

const DAY = 86_400_000;

export function addStoreStubs(app: FastifyInstance): void {
  const now = Date.now();
  const today = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate());
  app.get('/predictions/summary', async () => ({
    buckets: Array.from({ length: 21 }, (_, i) => {
      const leads = 15 + ((i * 7) % 13);
      const A = Math.round(leads * 0.3);
      const B = Math.round(leads * 0.25);
      const C = Math.round(leads * 0.25);
      return { start: new Date(today - (20 - i) * DAY).toISOString().slice(0, 10), leads, tiers: { A, B, C, D: leads - A - B - C }, mean_probability: 0.1, converted: i < 14 ? 2 : 0, lost: 0, conversion_rate: i < 14 ? 2 / leads : 0 };
    }),
  }));
  app.get('/predictions', async () => ({
    predictions: Array.from({ length: 10 }, (_, i) => ({
      mql_id: `lead-${i}`,
      first_contact_date: new Date(today).toISOString().slice(0, 10),
      landing_page_id: `page-${i % 3}`,
      origin: ['organic_search', 'paid_search', 'social', null][i % 4],
      probability: 0.2 - i * 0.004,
      tier: 'A',
      model_version: 'stub',
      scored_at: new Date(now - i * 600_000).toISOString(),
      outcome: ['unknown', 'converted', 'lost'][i % 3],
    })),
    next_cursor: null,
  }));
  app.get('/model/performance', async () => ({
    leads: 812,
    converted: 93,
    roc_auc: 0.66,
    pr_auc: 0.18,
    brier: 0.099,
    log_loss: 0.35,
    calibration: [
      { lower: 0, upper: 0.1, count: 500, meanPredicted: 0.07, observedRate: 0.08 },
      { lower: 0.1, upper: 0.2, count: 300, meanPredicted: 0.15, observedRate: 0.17 },
      { lower: 0.2, upper: 0.3, count: 12, meanPredicted: 0.22, observedRate: 0.25 },
    ],
    tiers: {},
    holdout: null,
  }));
  app.get('/model/drift', async () => ({
    window: { since: new Date(now - DAY).toISOString(), until: new Date(now).toISOString() },
    leads: 812,
    features: [
      { feature: 'origin', psi: 0.04, js_distance: 0.05, status: 'stable', top_moves: [{ category: 'organic_search', expected: 0.29, observed: 0.33 }] },
      { feature: 'landing_page_id', psi: 0.31, js_distance: 0.21, status: 'significant', top_moves: [{ category: '(other)', expected: 0, observed: 0.12 }] },
      { feature: 'score', psi: 0.12, js_distance: 0.08, status: 'moderate', top_moves: [] },
    ],
  }));
}

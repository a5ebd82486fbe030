// Keeps the slow gauges current in the background: drift per feature, and live quality from the store.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { brierScore, rocAuc } from '../../model/metrics.js';
import { measureDrift } from '../drift.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Recomputes the drift and live-quality gauges now (the timer calls the same). */
    refreshMonitoring(): Promise<void>;
  }
}

/** A minute: drift and live AUC move over days, and each refresh is a few queries over the store. */
export const MONITOR_INTERVAL_MS = 60_000;
const DRIFT_WINDOW_MS = 24 * 3_600_000;

async function monitor(app: FastifyInstance, options: { intervalMs?: number }): Promise<void> {
  const metrics = app.metrics;
  app.decorate('refreshMonitoring', async () => {
    if (!metrics) return;
    const { artifact } = app.models.champion;
    const drift = await measureDrift(artifact, { store: app.store, memory: app.driftCounts }, DRIFT_WINDOW_MS);
    metrics.driftPsi.reset();
    for (const feature of drift.features) if (feature.psi !== null && feature.status !== 'insufficient_data') metrics.driftPsi.set({ feature: feature.feature }, feature.psi);
    if (app.store) {
      const { probabilities, labels } = await app.store.labelledScores({ model_version: artifact.model_version });
      const auc = labels.length ? rocAuc(labels, probabilities) : Number.NaN;
      // Only the served version's figures: a reload's predecessor no longer speaks for the service
      // (and a reload during the query leaves the gauges empty until the next refresh).
      metrics.liveRocAuc.reset();
      metrics.liveBrier.reset();
      if (app.models.champion.artifact.model_version !== artifact.model_version) return;
      if (Number.isFinite(auc)) metrics.liveRocAuc.set({ model_version: artifact.model_version }, auc);
      if (labels.length) metrics.liveBrier.set({ model_version: artifact.model_version }, brierScore(labels, probabilities));
    }
  });
  if (!metrics) return;

  let timer: NodeJS.Timeout | null = null;
  const tick = () => {
    app.refreshMonitoring().catch((err: unknown) => app.log.warn({ err }, 'monitoring refresh failed; the next one tries again'));
    timer = setTimeout(tick, options.intervalMs ?? MONITOR_INTERVAL_MS);
    timer.unref();
  };
  app.addHook('onReady', (done) => {
    tick();
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    if (timer) clearTimeout(timer);
    done();
  });
}

export default fp(monitor, { name: 'monitor', dependencies: ['metrics', 'scoring'] });

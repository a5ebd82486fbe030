// GET /metrics in the Prometheus text format, and the request-duration histogram behind it.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { ServiceMetrics } from '../metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The process's metrics, or null when the service runs without instrumentation. */
    readonly metrics: ServiceMetrics | null;
  }
}

export interface MetricsOptions {
  metrics: ServiceMetrics | null;
  /** Anyone may scrape (METRICS_PUBLIC=true); otherwise a key with the read role is needed when keys are configured. */
  public: boolean;
  /** The text of a scrape: this process's registry, or with WORKERS > 1 the whole process group's. */
  collect?: () => Promise<string>;
}

async function metricsPlugin(app: FastifyInstance, options: MetricsOptions): Promise<void> {
  const { metrics } = options;
  app.decorate('metrics', metrics);
  if (!metrics) return;
  metrics.setModel(app.models.champion.artifact);
  app.models.onReload((outcome, champion) => {
    metrics.reloads.inc({ outcome: outcome.ok ? 'ok' : 'failed' });
    if (outcome.ok) metrics.setModel(champion.artifact);
  });

  // The route pattern, never the URL: /predictions/abc and /predictions/xyz are one series, and an
  // unknown URL is "unmatched" rather than a new series per path a scanner tries.
  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpDuration.observe({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: reply.statusCode }, reply.elapsedTime / 1000);
    done();
  });

  const collect = options.collect ?? (() => metrics.registry.metrics());
  app.get('/metrics', {
    onRequest: options.public ? [] : app.requireRole('read'),
    schema: { summary: 'Prometheus metrics of the whole service (every worker)', tags: ['ops'], security: options.public ? [] : app.security },
    handler: async (_request, reply) => {
      reply.type(metrics.registry.contentType);
      return collect();
    },
  });
}

export default fp(metricsPlugin, { name: 'metrics', dependencies: ['auth'] });

// Readiness and liveness, for load balancers and orchestrators.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { exemptFromPressure } from '../plugins/protection.js';
import { HealthResponseSchema, LiveResponseSchema } from '../schemas.js';

const health: FastifyPluginAsyncZod = async (app) => {
  const startedAt = Date.now();

  app.get('/health', {
    schema: {
      summary: 'Readiness: 200 while the model is loaded and scores can be recorded; 503 once shutdown began, or while the store cannot take a write',
      tags: ['ops'],
      response: { 200: HealthResponseSchema, 503: HealthResponseSchema },
    },
    handler: async (_request, reply) => {
      if (app.shuttingDown) return reply.code(503).send({ status: 'shutting_down' });
      const { artifact } = app.models.champion;
      // Not ready while every score would be refused: the load balancer sends the work to replicas that can record it.
      const store = app.store ? await app.store.health() : { status: 'off' as const };
      return reply.code(store.status === 'down' ? 503 : 200).send({
        status: store.status === 'down' ? ('store_unavailable' as const) : ('ok' as const),
        model: { version: artifact.model_version, created_at: artifact.created_at, sha256: artifact.sha256 },
        store,
        uptime_s: Math.round((Date.now() - startedAt) / 100) / 10,
      });
    },
  });

  app.get('/health/live', {
    config: exemptFromPressure,
    schema: { summary: 'Liveness: 200 while the process runs', tags: ['ops'], response: { 200: LiveResponseSchema } },
    handler: async () => ({ status: 'alive' as const }),
  });
};

export default health;

// POST /predict: one lead in, its score out, written from fragments prepared when the model loaded.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { errorResponses, JSON_TYPE, sendWritten } from '../http.js';
import { LeadSchema, PredictResponseSchema } from '../schemas.js';

const predict: FastifyPluginAsyncZod = async (app) => {
  app.post('/predict', {
    onRequest: app.requireRole('score'),
    schema: { summary: 'Score one lead', tags: ['scoring'], security: app.security, body: LeadSchema, response: { 200: PredictResponseSchema, ...errorResponses } },
    handler: async (request, reply) => {
      const lead = request.body;
      const { scorer, write } = app.models.champion;
      request.modelVersion = scorer.version;
      return sendWritten(reply, JSON_TYPE, write.prediction({ mql_id: lead.mql_id, ...scorer.score(lead) }));
    },
  });
};

export default predict;

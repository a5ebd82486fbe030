// POST /predict: one lead in, its score out, written from fragments prepared when the model loaded.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { errorResponses, JSON_TYPE, sendWritten } from '../http.js';
import { LeadSchema, PredictResponseSchema } from '../schemas.js';

const predict: FastifyPluginAsyncZod = async (app) => {
  app.post('/predict', {
    onRequest: app.requireRole('score'),
    schema: { summary: 'Score one lead', tags: ['scoring'], security: app.security, body: LeadSchema, response: { 200: PredictResponseSchema, ...errorResponses } },
    handler: async (request, reply) => {
      const { model, predictions } = await app.scoreLeads(request, [request.body]);
      return sendWritten(reply, JSON_TYPE, model.write.prediction(predictions[0]!));
    },
  });
};

export default predict;

// POST /outcomes: the CRM reports which leads became deals (or were lost), as JSON or as CSV.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { acceptCsvBody } from '../csv.js';
import { errorResponses } from '../http.js';
import { OutcomeReceiptSchema, outcomesRequestSchema } from '../schemas.js';

export interface OutcomesOptions {
  maxOutcomes: number;
  bodyLimit: number;
}

const outcomes: FastifyPluginAsyncZod<OutcomesOptions> = async (app, { maxOutcomes, bodyLimit }) => {
  // Olist's closed-deals file is accepted as it is: its other columns are ignored.
  acceptCsvBody(app, { field: 'outcomes', maxRows: maxOutcomes, bodyLimit, required: ['mql_id', 'won_date'] });

  app.post('/outcomes', {
    onRequest: [...app.requireRole('outcomes'), ...app.requireStore],
    schema: {
      summary: 'Record outcomes: which leads became closed deals (converted, the default) or were lost; idempotent',
      tags: ['predictions'],
      security: app.security,
      body: outcomesRequestSchema(maxOutcomes),
      response: { 200: OutcomeReceiptSchema, ...errorResponses, 404: errorResponses[400] },
    },
    handler: async (request) => {
      request.batchSize = request.body.outcomes.length;
      return app.store!.recordOutcomes(request.body.outcomes);
    },
  });
};

export default outcomes;

// POST /batch-predict: many leads as JSON or CSV; JSON, or CSV when asked, back.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { scoresCsvHeader, scoresCsvRows } from '../../data/csv-write.js';
import { acceptCsvBody } from '../csv.js';
import { HttpError } from '../errors.js';
import { CSV_TYPE, errorResponses, JSON_TYPE, sendWritten, wantsCsv } from '../http.js';
import { BatchResponseSchema, batchRequestSchema } from '../schemas.js';

export interface BatchOptions {
  maxBatch: number;
  bodyLimit: number;
}

const batch: FastifyPluginAsyncZod<BatchOptions> = async (app, { maxBatch, bodyLimit }) => {
  // Only this route reads leads as CSV; registering the parser here keeps /predict JSON-only.
  acceptCsvBody(app, { field: 'leads', maxRows: maxBatch, bodyLimit });

  app.post('/batch-predict', {
    onRequest: app.requireRole('score'),
    // The size check comes before validation so an oversized batch is refused without reading every lead.
    preValidation: (request, _reply, done) => {
      const leads = (request.body as { leads?: unknown } | null)?.leads;
      if (Array.isArray(leads) && leads.length > maxBatch) done(new HttpError(413, `the batch holds ${leads.length} leads; MAX_BATCH is ${maxBatch}`));
      else done();
    },
    schema: {
      summary: 'Score many leads (JSON or CSV in; JSON, or CSV with Accept: text/csv, out)',
      tags: ['scoring'],
      security: app.security,
      body: batchRequestSchema(maxBatch),
      response: { 200: BatchResponseSchema, ...errorResponses },
    },
    handler: async (request, reply) => {
      const { leads } = request.body;
      request.batchSize = leads.length;
      const { model, predictions } = await app.scoreLeads(request, leads);
      if (wantsCsv(request, reply)) {
        return sendWritten(reply, CSV_TYPE, scoresCsvHeader(true) + scoresCsvRows(predictions, model.scorer.version));
      }
      return sendWritten(reply, JSON_TYPE, model.write.batch(predictions));
    },
  });
};

export default batch;

// POST /batch-predict: many leads as JSON or CSV; JSON, or CSV when asked, back.
import { Transform, type Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { parseLeadsCsv, scoresCsvHeader, scoresCsvRows } from '../csv.js';
import { HttpError } from '../errors.js';
import { CSV_TYPE, errorResponses, JSON_TYPE, sendWritten, wantsCsv } from '../http.js';
import { checkCharset } from '../plugins/errors.js';
import { BatchResponseSchema, batchRequestSchema } from '../schemas.js';

export interface BatchOptions {
  maxBatch: number;
  bodyLimit: number;
}

/** A CSV record longer than this is refused: a lead is four short fields, and a CRM export row a few hundred bytes. */
export const MAX_CSV_RECORD_BYTES = 64 * 1024;

/** Passes bytes through until `limit`, then fails: a stream parser gets no body limit from Fastify. */
function byteLimit(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > limit) done(new HttpError(413, `the body is larger than BODY_LIMIT, ${limit} bytes; send fewer leads per request`, undefined, undefined, { connection: 'close' }));
      else done(null, chunk);
    },
  });
}

const batch: FastifyPluginAsyncZod<BatchOptions> = async (app, { maxBatch, bodyLimit }) => {
  // Only this route reads CSV bodies; registering the parser here keeps /predict JSON-only.
  // The body is parsed as it streams in and reading stops at MAX_BATCH + 1 rows, so an
  // oversized CSV costs a 413 after a few hundred kilobytes, not a parse of the whole upload.
  app.addContentTypeParser(['text/csv', 'application/csv'], async (request: FastifyRequest, payload: Readable) => {
    checkCharset(request);
    const limited = payload.pipe(byteLimit(bodyLimit));
    payload.on('error', (error) => limited.destroy(error));
    const { leads, lines } = await parseLeadsCsv(limited, { maxRows: maxBatch, maxRecordSize: MAX_CSV_RECORD_BYTES });
    request.csvLines = lines;
    return { leads };
  });

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
      const { scorer, write } = app.models.champion;
      request.batchSize = leads.length;
      request.modelVersion = scorer.version;
      const predictions = leads.map((lead) => ({ mql_id: lead.mql_id, ...scorer.score(lead) }));
      if (wantsCsv(request, reply)) {
        return sendWritten(reply, CSV_TYPE, scoresCsvHeader(true) + scoresCsvRows(predictions, scorer.version));
      }
      return sendWritten(reply, JSON_TYPE, write.batch(predictions));
    },
  });
};

export default batch;

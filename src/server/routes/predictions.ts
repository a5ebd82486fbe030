// The dashboards' API over stored scores: list (or export as CSV), one lead's history, daily summaries.
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { csvCell } from '../../data/csv-write.js';
import { MISSING } from '../../features/pipeline.js';
import type { Prediction, PredictionFilter, Store } from '../../store/index.js';
import { HttpError } from '../errors.js';
import { CSV_TYPE, sendWritten, wantsCsv } from '../http.js';
import { ErrorSchema, LeadHistorySchema, LeadIdParamsSchema, PredictionPageSchema, PredictionQuerySchema, SummaryQuerySchema, SummarySchema } from '../schemas.js';

const EXPORT_COLUMNS = ['mql_id', 'first_contact_date', 'landing_page_id', 'origin', 'probability', 'tier', 'model_version', 'scored_at', 'outcome'] as const;

/** One CSV line; text cells go through csvCell (quoting and formula neutralisation), numbers as the shortest exact text. */
function exportLine(p: Prediction): string {
  return `${csvCell(p.mql_id)},${csvCell(p.first_contact_date)},${csvCell(p.landing_page_id)},${p.origin === null ? '' : csvCell(p.origin)},${p.probability},${p.tier},${csvCell(p.model_version)},${p.scored_at},${p.outcome}\n`;
}

/**
 * Every matching row as CSV, a chunk at a time: memory stays flat however many rows the export has.
 * The first chunk is read before the response begins, so a store that cannot answer is a 503 in the
 * usual shape rather than a 200 whose download breaks off after the header; a failure after that
 * breaks the download off, never ending it as a short file.
 */
async function exportCsv(store: Store, filter: PredictionFilter, cursor: string | undefined, stallMs: number): Promise<Readable> {
  const chunks = store.exportPredictions(filter, { cursor })[Symbol.asyncIterator]();
  const first = await chunks.next();
  let stalled: NodeJS.Timeout | undefined;
  async function* lines(): AsyncGenerator<string> {
    yield `${EXPORT_COLUMNS.join(',')}\n`;
    for (let next = first; !next.done; next = await chunks.next()) {
      let text = '';
      for (const prediction of next.value) text += exportLine(prediction);
      // Armed while the response holds this chunk and has not asked for the next: a client that
      // takes nothing for stallMs loses the download. Three that asked for an export and stopped
      // reading held every export a process runs (SQLite's threads, PostgreSQL's export
      // connections) for as long as they stayed connected. Time the store takes for a chunk does
      // not count, and nothing is left on the connection for a request after this one.
      stalled = setTimeout(() => stream.destroy(new Error(`the client took nothing for ${stallMs} ms; the export was broken off`)), stallMs).unref();
      yield text;
      clearTimeout(stalled);
    }
  }
  // One chunk buffered here (of 1,000 rows), not Readable.from's 16, so a stalled client is seen at once.
  const stream = Readable.from(lines(), { highWaterMark: 1 });
  // However the response ends (finished, failed, the client gone before it began), the store's
  // export ends too and gives back its connection or statement.
  stream.once('close', () => {
    clearTimeout(stalled);
    void chunks.return?.(undefined).catch(() => undefined);
  });
  return stream;
}

const readResponses = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 503: ErrorSchema };

const predictions: FastifyPluginAsyncZod<{ exportStallMs: number }> = async (app, { exportStallMs }) => {
  const guard = [...app.requireRole('read'), ...app.requireStore];
  const store = () => app.store!;

  app.get('/predictions', {
    onRequest: guard,
    schema: {
      summary: 'Stored current scores, newest first, with filters and cursor pages; with Accept: text/csv every matching row as CSV',
      tags: ['predictions'],
      security: app.security,
      querystring: PredictionQuerySchema,
      response: { 200: PredictionPageSchema, ...readResponses },
    },
    handler: async (request, reply) => {
      const { since, until, tier, origin, landing_page_id, model_version, outcome, limit, cursor } = request.query;
      const filter: PredictionFilter = { since, until, tiers: tier, origin: origin === MISSING ? null : origin, landing_page_id, model_version, outcome };
      if (wantsCsv(request, reply)) {
        const rows = await exportCsv(store(), filter, cursor, exportStallMs);
        reply.header('content-disposition', 'attachment; filename="predictions.csv"');
        return sendWritten(reply, CSV_TYPE, rows);
      }
      return store().listPredictions(filter, { limit, cursor });
    },
  });

  app.get('/predictions/summary', {
    onRequest: guard,
    schema: {
      summary: 'Stored current scores by the day, week or month they were scored: leads, tiers, mean probability, conversions',
      tags: ['predictions'],
      security: app.security,
      querystring: SummaryQuerySchema,
      response: { 200: SummarySchema, ...readResponses },
    },
    handler: async (request) => {
      const { since, until, interval } = request.query;
      return { interval, buckets: await store().summarize({ since, until }, interval) };
    },
  });

  app.get('/predictions/:mql_id', {
    onRequest: guard,
    schema: {
      summary: 'One lead: its current score, every earlier one and its outcome',
      tags: ['predictions'],
      security: app.security,
      params: LeadIdParamsSchema,
      response: { 200: LeadHistorySchema, ...readResponses },
    },
    handler: async (request) => {
      const lead = await store().getLead(request.params.mql_id);
      if (!lead) throw new HttpError(404, `lead ${JSON.stringify(request.params.mql_id)} has never been scored`);
      return lead;
    },
  });
};

export default predictions;

// CSV request bodies (leads for /batch-predict, outcomes for /outcomes): streamed, limited, read by the shared CSV reader.
import { Transform, type Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RowProblem } from '../data/csv.js';
import { LEAD_COLUMNS } from '../features/lead.js';
import { HttpError } from './errors.js';
import { checkCharset } from './plugins/errors.js';

/** A CSV record longer than this is refused: a lead is four short fields, and a CRM export row a few hundred bytes. */
export const MAX_CSV_RECORD_BYTES = 64 * 1024;

/** Passes bytes through until `limit`, then fails: a stream parser gets no body limit from Fastify. */
function byteLimit(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > limit) done(new HttpError(413, `the body is larger than BODY_LIMIT, ${limit} bytes; send fewer rows per request`, undefined, undefined, { connection: 'close' }));
      else done(null, chunk);
    },
  });
}

/**
 * Lets the routes of `app` (an encapsulated plugin) take text/csv bodies, read into `{ [field]: rows }`.
 * The body is parsed as it streams in and reading stops at `maxRows` + 1 rows, so an oversized
 * CSV costs a 413 after a few hundred kilobytes, not a parse of the whole upload.
 */
export function acceptCsvBody(app: FastifyInstance, options: { field: string; maxRows: number; bodyLimit: number; required?: readonly string[] }): void {
  app.addContentTypeParser(['text/csv', 'application/csv'], async (request: FastifyRequest, payload: Readable) => {
    checkCharset(request);
    const limited = payload.pipe(byteLimit(options.bodyLimit));
    payload.on('error', (error) => limited.destroy(error));
    const { rows, lines } = await parseCsvBody(limited, { maxRows: options.maxRows, maxRecordSize: MAX_CSV_RECORD_BYTES, rows: options.field, required: options.required });
    request.csvLines = lines;
    return { [options.field]: rows };
  });
}

export interface CsvRows {
  rows: Record<string, string>[];
  /** The file line each row ends on, for error messages. */
  lines: number[];
}

export interface CsvBodyLimits {
  maxRows: number;
  maxRecordSize: number;
  /** What a row is, for messages: "leads", "outcomes". */
  rows?: string;
  /** Columns the header must have. */
  required?: readonly string[];
}

/**
 * Reads a CSV body with the same reader as training; a malformed file or short rows are a 400
 * naming the lines. Stops reading at `maxRows` + 1 rows with a 413.
 */
export async function parseCsvBody(input: Readable, limits: CsvBodyLimits): Promise<CsvRows> {
  const what = limits.rows ?? 'leads';
  // Loaded on the first CSV body rather than at start-up: most clients send JSON, and the
  // CSV parser is ~20 ms of a cold start that autoscaling waits for.
  const { DataError, readCsv } = await import('../data/csv.js');
  const rows: Record<string, string>[] = [];
  const lines: number[] = [];
  const shortRows: RowProblem[] = [];
  try {
    for await (const { line, values } of readCsv(input, 'CSV body', limits.required ?? LEAD_COLUMNS.filter((c) => c !== 'origin'), (p) => shortRows.push(p), { maxRecordSize: limits.maxRecordSize })) {
      // Leaving the loop destroys the parser; the rest of the body is never parsed or kept.
      if (rows.length === limits.maxRows) throw new HttpError(413, `the CSV body holds more than ${limits.maxRows} ${what}; MAX_BATCH is ${limits.maxRows}`, undefined, undefined, { connection: 'close' });
      rows.push(values);
      lines.push(line);
    }
  } catch (error) {
    if (error instanceof DataError) throw new HttpError(400, error.message);
    throw error; // an HttpError from the byte limit, or the client going away
  }
  if (shortRows.length) {
    throw new HttpError(
      400,
      `${shortRows.length} CSV row(s) do not have as many fields as the header`,
      shortRows.map((problem) => ({ path: `line ${problem.line}`, message: problem.message })),
    );
  }
  return { rows, lines };
}

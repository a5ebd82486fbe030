// CSV bodies for /batch-predict: Olist MQL columns in, scores out.
import type { Readable } from 'node:stream';
import type { RowProblem } from '../data/csv.js';
import { LEAD_COLUMNS } from '../features/lead.js';
import { HttpError } from './errors.js';

export interface CsvLeads {
  leads: Record<string, string>[];
  /** The file line each lead ends on, for error messages. */
  lines: number[];
}

/**
 * Reads a CSV body with the same reader as training; a malformed file or short rows are a 400
 * naming the lines. Stops reading at `maxRows` + 1 leads with a 413.
 */
export async function parseLeadsCsv(input: Readable, limits: { maxRows: number; maxRecordSize: number }): Promise<CsvLeads> {
  // Loaded on the first CSV body rather than at start-up: most clients send JSON, and the
  // CSV parser is ~20 ms of a cold start that autoscaling waits for.
  const { DataError, readCsv } = await import('../data/csv.js');
  const leads: Record<string, string>[] = [];
  const lines: number[] = [];
  const shortRows: RowProblem[] = [];
  try {
    for await (const { line, values } of readCsv(input, 'CSV body', LEAD_COLUMNS.filter((c) => c !== 'origin'), (p) => shortRows.push(p), { maxRecordSize: limits.maxRecordSize })) {
      // Leaving the loop destroys the parser; the rest of the body is never parsed or kept.
      if (leads.length === limits.maxRows) throw new HttpError(413, `the CSV body holds more than ${limits.maxRows} leads; MAX_BATCH is ${limits.maxRows}`, undefined, undefined, { connection: 'close' });
      leads.push(values);
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
  return { leads, lines };
}

const CSV_SPECIAL = /[",\r\n]/;

function csvField(value: string): string {
  return CSV_SPECIAL.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function scoresCsvHeader(withModelVersion: boolean): string {
  return withModelVersion ? 'mql_id,probability,tier,model_version\n' : 'mql_id,probability,tier\n';
}

/** One line per score; String(number) is the shortest text that reads back as the same double, as in JSON. */
export function scoresCsvRows(rows: readonly { mql_id: string; probability: number; tier: string }[], modelVersion?: string): string {
  const suffix = modelVersion === undefined ? '' : `,${csvField(modelVersion)}`;
  let out = '';
  for (const row of rows) out += `${csvField(row.mql_id)},${row.probability},${row.tier}${suffix}\n`;
  return out;
}

// CSV bodies for /batch-predict: Olist MQL columns in, scores out.
import { parse } from 'csv-parse/sync';
import { LEAD_COLUMNS } from '../features/lead.js';
import { HttpError } from './errors.js';

export interface CsvLeads {
  leads: Record<string, string>[];
  /** The file line each lead ends on, for error messages. */
  lines: number[];
}

/** Parses a CSV body; a malformed file or a short row is a 400 naming its line. */
export function parseLeadsCsv(text: string): CsvLeads {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { bom: true, info: true, relax_column_count: true, skip_empty_lines: true }) as unknown as typeof records;
  } catch (error) {
    const { message, lines } = error as { message: string; lines?: number };
    throw new HttpError(400, `the body is not valid CSV${lines ? ` (line ${lines})` : ''}: ${message}`);
  }
  const header = records[0]?.record.map((name) => name.trim());
  if (!header) throw new HttpError(400, `the CSV body is empty; expected the header ${LEAD_COLUMNS.join(',')}`);
  const missing = LEAD_COLUMNS.filter((column) => column !== 'origin' && !header.includes(column));
  if (missing.length) {
    throw new HttpError(400, `the CSV header lacks ${missing.join(', ')}; expected ${LEAD_COLUMNS.join(',')}`, missing.map((column) => ({ path: `header.${column}`, message: 'missing column' })));
  }
  const shortRows = records.slice(1).filter(({ record }) => record.length !== header.length);
  if (shortRows.length) {
    throw new HttpError(
      400,
      `${shortRows.length} CSV row(s) do not have the header's ${header.length} fields`,
      shortRows.map(({ record, info }) => ({ path: `line ${info.lines}`, message: `has ${record.length} fields, the header has ${header.length}` })),
    );
  }
  const rows = records.slice(1);
  return {
    leads: rows.map(({ record }) => Object.fromEntries(header.map((name, i) => [name, record[i]!]))),
    lines: rows.map(({ info }) => info.lines),
  };
}

const CSV_SPECIAL = /[",\r\n]/;

function csvField(value: string): string {
  return CSV_SPECIAL.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function scoresCsv(rows: { mql_id: string; probability: number; tier: string }[], modelVersion?: string): string {
  const header = modelVersion === undefined ? 'mql_id,probability,tier' : 'mql_id,probability,tier,model_version';
  const suffix = modelVersion === undefined ? '' : `,${csvField(modelVersion)}`;
  let out = `${header}\n`;
  // String(number) is the shortest text that reads back as the same double, as in JSON.
  for (const row of rows) out += `${csvField(row.mql_id)},${row.probability},${row.tier}${suffix}\n`;
  return out;
}

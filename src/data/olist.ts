// Reads the two Olist marketing-funnel CSVs as streams, validates every row and joins the label.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse';
import { z } from 'zod';
import { LEAD_COLUMNS, LeadSchema, parseLeadDate, type LabelledLead } from '../features/lead.js';

export const MQL_FILE = 'olist_marketing_qualified_leads_dataset.csv';
export const DEALS_FILE = 'olist_closed_deals_dataset.csv';
export const DATASET_URL = 'https://www.kaggle.com/datasets/olistbr/marketing-funnel-olist';

export const MQL_COLUMNS = LEAD_COLUMNS;
const DEAL_COLUMNS = ['mql_id', 'won_date'] as const;

const DealSchema = z.object({
  mql_id: z.string().min(1, 'must not be empty'),
  won_date: z.string().refine((value) => parseLeadDate(value) !== null, 'must be a date-time, YYYY-MM-DD HH:MM:SS'),
});

/** One rejected row: where it is and what is wrong with it. */
export interface RowProblem {
  file: string;
  line: number;
  field: string;
  message: string;
}

export function describeProblem(problem: RowProblem): string {
  return `${problem.file}:${problem.line}: ${problem.field} ${problem.message}`;
}

export class DataError extends Error {
  constructor(message: string, readonly problem?: RowProblem) {
    super(message);
    this.name = 'DataError';
  }
}

export interface FileFingerprint {
  file: string;
  sha256: string;
  rows: number;
}

export interface OlistData {
  leads: LabelledLead[];
  problems: RowProblem[];
  files: FileFingerprint[];
}

export interface LoadOptions {
  /** Stop at the first bad row instead of counting and reporting it. */
  strict?: boolean;
}

interface CsvRow {
  line: number;
  values: Record<string, string>;
}

/**
 * Streams a CSV file, yielding each record keyed by the header with its line number.
 * Records whose field count differs from the header's are reported, not yielded.
 */
async function* readCsv(
  filePath: string,
  requiredColumns: readonly string[],
  report: (problem: RowProblem) => void,
  fingerprint: { sha256: string; rows: number },
): AsyncGenerator<CsvRow> {
  const file = path.basename(filePath);
  const hash = createHash('sha256');
  const input = createReadStream(filePath);
  input.on('data', (chunk) => hash.update(chunk));
  const parser = input.pipe(parse({ bom: true, info: true, relax_column_count: true, skip_empty_lines: true }));
  input.on('error', (error) => parser.destroy(error));
  let header: string[] | null = null;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (!header) {
        header = record.map((name) => name.trim());
        const missing = requiredColumns.filter((column) => !header!.includes(column));
        if (missing.length) throw new DataError(`${file}:1: the header lacks column(s) ${missing.join(', ')} (found: ${header.join(', ')})`);
        continue;
      }
      fingerprint.rows++;
      if (record.length !== header.length) {
        report({ file, line: info.lines, field: 'row', message: `has ${record.length} fields, the header has ${header.length}` });
        continue;
      }
      yield { line: info.lines, values: Object.fromEntries(header.map((name, i) => [name, record[i]!])) };
    }
  } catch (error) {
    if (error instanceof DataError) throw error;
    const { message, lines } = error as { message: string; lines?: number };
    throw new DataError(`${file}${lines ? `:${lines}` : ''}: cannot read the CSV: ${message}`);
  }
  if (!header) throw new DataError(`${file}: the file is empty; expected a header with ${requiredColumns.join(', ')}`);
  fingerprint.sha256 = hash.digest('hex');
}

function zodProblems(file: string, line: number, error: z.ZodError): RowProblem[] {
  return error.issues.map((issue) => ({ file, line, field: issue.path.join('.') || 'row', message: issue.message }));
}

/** Where the data set is expected and how to get it, for a message when it is missing. */
export async function assertDataDirectory(dir: string): Promise<void> {
  for (const file of [MQL_FILE, DEALS_FILE]) {
    try {
      await access(path.join(dir, file));
    } catch {
      throw new DataError(
        `cannot find ${file} in ${path.resolve(dir)}. Download the "Marketing Funnel by Olist" data set from ${DATASET_URL}, ` +
          `unzip it into a folder and pass it with --data <dir>.`,
      );
    }
  }
}

/** Loads MQLs and closed deals; a lead is converted when its mql_id appears among the deals. */
export async function loadOlist(dir: string, options: LoadOptions = {}): Promise<OlistData> {
  await assertDataDirectory(dir);
  const problems: RowProblem[] = [];
  const report = (problem: RowProblem) => {
    if (options.strict) throw new DataError(describeProblem(problem), problem);
    problems.push(problem);
  };

  const deals = new Map<string, { line: number; wonDate: string }>();
  const dealsPrint = { file: DEALS_FILE, sha256: '', rows: 0 };
  for await (const { line, values } of readCsv(path.join(dir, DEALS_FILE), DEAL_COLUMNS, report, dealsPrint)) {
    const parsed = DealSchema.safeParse(values);
    if (!parsed.success) {
      zodProblems(DEALS_FILE, line, parsed.error).forEach(report);
      continue;
    }
    const earlier = deals.get(parsed.data.mql_id);
    if (earlier) {
      report({ file: DEALS_FILE, line, field: 'mql_id', message: `repeats the deal on line ${earlier.line}` });
      continue;
    }
    deals.set(parsed.data.mql_id, { line, wonDate: parsed.data.won_date });
  }

  const leads: LabelledLead[] = [];
  const seen = new Map<string, number>();
  const mqlPrint = { file: MQL_FILE, sha256: '', rows: 0 };
  for await (const { line, values } of readCsv(path.join(dir, MQL_FILE), MQL_COLUMNS, report, mqlPrint)) {
    const parsed = LeadSchema.safeParse(values);
    if (!parsed.success) {
      zodProblems(MQL_FILE, line, parsed.error).forEach(report);
      continue;
    }
    const lead = parsed.data;
    const earlier = seen.get(lead.mql_id);
    if (earlier !== undefined) {
      report({ file: MQL_FILE, line, field: 'mql_id', message: `repeats the lead on line ${earlier}` });
      continue;
    }
    seen.set(lead.mql_id, line);
    const deal = deals.get(lead.mql_id);
    leads.push(deal ? { ...lead, converted: true, won_date: deal.wonDate } : { ...lead, converted: false });
  }

  for (const [mqlId, deal] of deals) {
    if (!seen.has(mqlId)) report({ file: DEALS_FILE, line: deal.line, field: 'mql_id', message: `matches no lead in ${MQL_FILE}` });
  }
  return { leads, problems, files: [mqlPrint, dealsPrint] };
}

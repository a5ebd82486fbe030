// Reads the two Olist marketing-funnel CSVs as streams, validates every row and joins the label.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { DataError, describeProblem, readCsv, zodProblems, type RowProblem } from './csv.js';
import { LEAD_COLUMNS, LeadSchema, parseLeadDate, type LabelledLead } from '../features/lead.js';

export const MQL_FILE = 'olist_marketing_qualified_leads_dataset.csv';
export const DEALS_FILE = 'olist_closed_deals_dataset.csv';
export const DATASET_URL = 'https://www.kaggle.com/datasets/olistbr/marketing-funnel-olist';

const DEAL_COLUMNS = ['mql_id', 'won_date'] as const;

const DealSchema = z.object({
  mql_id: z.string().min(1, 'must not be empty'),
  won_date: z.string().refine((value) => parseLeadDate(value) !== null, 'must be a date-time, YYYY-MM-DD HH:MM:SS'),
});

export { DataError, describeProblem, type RowProblem } from './csv.js';

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

/** Reads a CSV file while hashing its bytes, so the artifact can name exactly what it was trained on. */
async function* readFingerprinted(
  filePath: string,
  requiredColumns: readonly string[],
  report: (problem: RowProblem) => void,
  fingerprint: FileFingerprint,
) {
  const hash = createHash('sha256');
  const input = createReadStream(filePath);
  input.on('data', (chunk) => hash.update(chunk));
  const countAndReport = (problem: RowProblem) => {
    if (problem.field === 'row') fingerprint.rows++; // a malformed row is still a row of the file
    report(problem);
  };
  for await (const row of readCsv(input, path.basename(filePath), requiredColumns, countAndReport)) {
    fingerprint.rows++;
    yield row;
  }
  fingerprint.sha256 = hash.digest('hex');
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
  for await (const { line, values } of readFingerprinted(path.join(dir, DEALS_FILE), DEAL_COLUMNS, report, dealsPrint)) {
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
  for await (const { line, values } of readFingerprinted(path.join(dir, MQL_FILE), LEAD_COLUMNS, report, mqlPrint)) {
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

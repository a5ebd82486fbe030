// Streaming CSV records keyed by their header, with line numbers; bad rows are reported, never dropped silently.
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import type { z } from 'zod';

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

/** One problem per zod issue, named by the field it concerns. */
export function zodProblems(file: string, line: number, error: z.ZodError): RowProblem[] {
  return error.issues.map((issue) => ({ file, line, field: issue.path.join('.') || 'row', message: issue.message }));
}

export class DataError extends Error {
  constructor(message: string, readonly problem?: RowProblem) {
    super(message);
    this.name = 'DataError';
  }
}

export interface CsvRow {
  line: number;
  values: Record<string, string>;
}

/**
 * Yields each record of a CSV stream keyed by the header. A record whose field count differs
 * from the header's is passed to `report`, not yielded; a file that cannot be parsed at all
 * (an unclosed quote) throws a DataError naming the line.
 */
export async function* readCsv(
  input: Readable,
  file: string,
  requiredColumns: readonly string[],
  report: (problem: RowProblem) => void,
  options: { maxRecordSize?: number } = {},
): AsyncGenerator<CsvRow> {
  const parser = input.pipe(parse({ bom: true, info: true, relax_column_count: true, skip_empty_lines: true, max_record_size: options.maxRecordSize }));
  let inputError: unknown;
  input.on('error', (error) => {
    inputError = error;
    parser.destroy(error);
  });
  let header: string[] | null = null;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (!header) {
        header = record.map((name) => name.trim());
        const missing = requiredColumns.filter((column) => !header!.includes(column));
        if (missing.length) throw new DataError(`${file}:1: the header lacks column(s) ${missing.join(', ')} (found: ${header.join(', ')})`);
        continue;
      }
      if (record.length !== header.length) {
        report({ file, line: info.lines, field: 'row', message: `has ${record.length} fields, the header has ${header.length}` });
        continue;
      }
      yield { line: info.lines, values: Object.fromEntries(header.map((name, i) => [name, record[i]!])) };
    }
  } catch (error) {
    // The caller's own errors from its input (a body limit, a client gone) pass through as they are; file errors are described.
    if (error instanceof DataError || (error === inputError && !(error as NodeJS.ErrnoException).syscall)) throw error;
    const { message, lines, code } = error as { message: string; lines?: number; code?: string };
    throw new DataError(code === 'ENOENT' ? `${file}: no such file` : `${file}${lines ? `:${lines}` : ''}: cannot read the CSV: ${message}`);
  }
  if (!header) throw new DataError(`${file}: the file is empty; expected a header with ${requiredColumns.join(', ')}`);
}

// Streaming CSV records keyed by their header, with line numbers; bad rows are reported, never dropped silently.
import type { Readable } from 'node:stream';
import { parse, type Options } from 'csv-parse';
import type { z } from 'zod';
import { utf8Check, Utf8Error } from './utf8.js';

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

interface LineRecord {
  record: string[];
  /** The file line the record ends on. */
  line: number;
}

export interface ReadCsvOptions {
  /**
   * The input is a whole file that may have been cut off (an interrupted copy, download or
   * export), so its last record must end with a line break. Without one, the last line is an
   * error naming it rather than a record: a row cut inside its last field still has every
   * field and would otherwise be read as a complete, wrong row. Off for request bodies, which
   * arrive whole or not at all and are often typed without a final line break.
   */
  requireFinalLineBreak?: boolean;
  /** A record longer than this many characters is an error naming its line (a body no client should send). */
  maxRecordSize?: number;
}

/**
 * Yields each record of a CSV stream keyed by the header. A record whose field count differs
 * from the header's is passed to `report`, not yielded; a file that cannot be parsed at all
 * (an unclosed quote) throws a DataError naming the line the unreadable row starts on.
 */
export async function* readCsv(
  input: Readable,
  file: string,
  requiredColumns: readonly string[],
  report: (problem: RowProblem) => void,
  { requireFinalLineBreak = false, maxRecordSize }: ReadCsvOptions = {},
): AsyncGenerator<CsvRow> {
  // Each record is tagged with the line it ends on by on_record, as the parser finds it: on an
  // error the async iterator drops records it had buffered, so only this callback knows where
  // the last complete record ended. It replaces csv-parse's `info` option rather than adding
  // to it: each copies the parser's state per record, and both together read 35 % slower.
  let lastRecordLine = 0;
  const options: Options<LineRecord, string[]> = {
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
    max_record_size: maxRecordSize,
    on_record: (record, context) => {
      lastRecordLine = context.lines;
      return { record, line: context.lines };
    },
  };
  // (csv-parse types records transformed by on_record only for its `columns` overload.)
  const checked = input.pipe(utf8Check());
  const parser = checked.pipe(parse(options as unknown as Options));
  let inputError: unknown;
  input.on('error', (error) => {
    inputError = error;
    parser.destroy(error);
  });
  checked.on('error', (error) => parser.destroy(error));
  let header: string[] | null = null;
  // Each record is settled only when the next one arrives (or the input ends), because only
  // then is it known whether it is the last one and ends with a line break.
  let held: LineRecord | null = null;
  const settle = ({ line, record }: LineRecord): CsvRow | null => {
    if (record.length !== header!.length) {
      report({ file, line, field: 'row', message: `has ${record.length} fields, the header has ${header!.length}` });
      return null;
    }
    return { line, values: Object.fromEntries(header!.map((name, i) => [name, record[i]!])) };
  };
  try {
    for await (const { record, line } of parser as AsyncIterable<LineRecord>) {
      if (!header) {
        header = record.map((name) => name.trim());
        // Two columns of one name: a row keyed by the header would keep one and drop the other unseen.
        // (Blank cells, as a spreadsheet's trailing empty columns, name nothing.)
        const repeated = [...new Set(header.filter((name, i) => name !== '' && header!.indexOf(name) !== i))];
        if (repeated.length) throw new DataError(`${file}:1: the header names column(s) ${repeated.join(', ')} more than once; keep one of each`);
        const missing = requiredColumns.filter((column) => !header!.includes(column));
        if (missing.length) throw new DataError(`${file}:1: the header lacks column(s) ${missing.join(', ')} (found: ${header.join(', ')})`);
        continue;
      }
      if (held) {
        const row = settle(held);
        if (row) yield row;
      }
      held = { line, record };
    }
    if (held) {
      // A line break after the last record moves the parser's line count past it.
      if (requireFinalLineBreak && parser.info.lines === held.line) {
        const fields = held.record.length;
        throw new DataError(
          fields < header!.length
            ? `${file}:${held.line}: the file ends inside this row (${fields} of ${header!.length} fields, no line break after it): it looks cut off`
            : `${file}:${held.line}: the file ends without a line break after this row, so it may be cut off inside its last field; if the file is complete, end it with a line break`,
        );
      }
      const row = settle(held);
      if (row) yield row;
    }
  } catch (error) {
    // The caller's own errors from its input (a body limit, a client gone) pass through as they are; file errors are described.
    if (error instanceof DataError || (error === inputError && !(error as NodeJS.ErrnoException).syscall)) throw error;
    if (error instanceof Utf8Error) throw new DataError(`${file}:${error.line}: ${error.message}`);
    const { message, lines, code } = error as { message: string; lines?: number; code?: string };
    if (code === 'ENOENT') throw new DataError(`${file}: no such file`);
    if (code === 'CSV_QUOTE_NOT_CLOSED') {
      throw new DataError(`${file}:${lastRecordLine + 1}: cannot read the CSV: a quoted field in the row starting here (or on a later line) is never closed; the file ends inside it at line ${lines}`);
    }
    throw new DataError(`${file}${lines ? `:${lines}` : ''}: cannot read the CSV: ${message}`);
  }
  if (!header) throw new DataError(`${file}: the file is empty; expected a header with ${requiredColumns.join(', ')}`);
}

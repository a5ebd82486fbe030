// Safe CSV writing: RFC 4180 quoting plus formula neutralisation, for every CSV the project writes.
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';

const NEEDS_QUOTES = /[",\r\n]/;

/**
 * Whether a spreadsheet would read a cell starting with this UTF-16 unit as a formula (OWASP,
 * "CSV Injection"): = + - @, tab and carriage return; and the full-width = + - @, which
 * csv-stringify neutralises too because Apple Numbers reads them as the ASCII ones.
 */
function startsFormula(code: number): boolean {
  switch (code) {
    case 0x3d: // =
    case 0x2b: // +
    case 0x2d: // -
    case 0x40: // @
    case 0x09: // tab
    case 0x0d: // carriage return
    case 0xff1d:
    case 0xff0b:
    case 0xff0d:
    case 0xff20:
      return true;
    default:
      return false;
  }
}

/**
 * One text cell: a leading single quote when a spreadsheet would run it as a formula (the
 * spreadsheet shows the text and hides the quote; a CSV reader gets the text with the quote),
 * then quoted when it holds a comma, a double quote or a line break.
 */
export function csvCell(value: string): string {
  const text = startsFormula(value.charCodeAt(0)) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export interface ScoreRow {
  mql_id: string;
  probability: number;
  tier: string;
}

export function scoresCsvHeader(withModelVersion: boolean): string {
  return withModelVersion ? 'mql_id,probability,tier,model_version\n' : 'mql_id,probability,tier\n';
}

/**
 * One line per score. The probability is written as String(number), the shortest text that
 * reads back as the same double (as in JSON), and is deliberately not neutralised: a quote
 * would stop it reading back as that number, and a number's text (digits, '.', 'e', a sign)
 * is no formula a spreadsheet can run. Probabilities lie in [0, 1], so even the one legitimate
 * leading '-' (a negative number) never occurs. The id and the version are text and always go
 * through csvCell; the tier is one of our own letters.
 *
 * Hand-written rather than csv-stringify, which has the same neutralisation as
 * `escape_formulas`: on 100,000 rows of 32-character ids with a model version this writes
 * about 570,000 rows per CPU second, csv-stringify/sync about 230,000
 * (`npx tsx scripts/bench/csv-write.ts`). The neutralisation itself costs one character test
 * per text cell: 2-3 % against the quoting-only writer it replaced, within the noise.
 */
export function scoresCsvRows(rows: readonly ScoreRow[], modelVersion?: string): string {
  const suffix = modelVersion === undefined ? '' : `,${csvCell(modelVersion)}`;
  let out = '';
  for (const row of rows) out += `${csvCell(row.mql_id)},${row.probability},${row.tier}${suffix}\n`;
  return out;
}

/**
 * A file written through a temporary file beside it and renamed into place by `commit`, so a
 * reader (or a later run) sees the old file or the whole new one, never a part. `abort`
 * removes the temporary file and leaves the old one untouched.
 */
export interface AtomicFile {
  stream: WriteStream;
  temporary: string;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export function createAtomicFile(file: string): AtomicFile {
  // Same folder, so the rename stays on one file system and is atomic.
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  // flush: the data reaches the disk before the rename makes it the file (Node ≥ 20.10).
  const stream = createWriteStream(temporary, { flags: 'wx', flush: true });
  // Kept for commit rather than thrown: an error nobody listens for would end the process.
  let failure: Error | undefined;
  stream.on('error', (error) => {
    failure ??= error;
  });
  // 'close' follows both a finished and a failed stream, once the descriptor is released.
  const closed = new Promise<void>((resolve) => stream.once('close', resolve));
  let settled = false;
  return {
    stream,
    temporary,
    async commit() {
      if (settled) throw new Error(`${file}: already committed or aborted`);
      settled = true;
      stream.end();
      await closed;
      try {
        if (failure) throw failure;
        await rename(temporary, file);
      } catch (error) {
        await rm(temporary, { force: true });
        throw error;
      }
    },
    async abort() {
      if (settled) return;
      settled = true;
      stream.destroy();
      await closed;
      await rm(temporary, { force: true });
    },
  };
}

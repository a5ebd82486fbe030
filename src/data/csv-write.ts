// Safe CSV writing: RFC 4180 quoting plus formula neutralisation, for every CSV the project writes.
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * Whether a spreadsheet would read a cell starting with this UTF-16 unit as a formula (OWASP,
 * "CSV Injection"): = + - @, tab and carriage return, and the full-width = + - @ that some
 * spreadsheets (Apple Numbers) fold into their ASCII forms before deciding.
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

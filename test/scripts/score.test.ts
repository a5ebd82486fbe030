import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scoreCsv } from '../../scripts/score.js';
import type { RowProblem } from '../../src/data/csv.js';
import { saveArtifact } from '../../src/model/artifact.js';
import { Scorer } from '../../src/model/scorer.js';
import { mqlCsv } from '../fixtures/olist.js';
import { FORMULA_PAYLOADS, quoted } from '../fixtures/csv.js';
import { trainedFixture } from '../model/helpers.js';
import { buildTestApp, type TestApp } from '../server/helper.js';

const run = promisify(execFile);
let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t.app.close());

async function scoreText(csv: string, options: { strict?: boolean } = {}) {
  const output = new PassThrough();
  let text = '';
  output.on('data', (chunk) => (text += chunk));
  const problems: RowProblem[] = [];
  const summary = await scoreCsv(Readable.from([csv]), output, new Scorer(trainedFixture().outcome.artifact), { file: 'leads.csv', onRejected: (p) => problems.push(p), ...options });
  return { text, summary, problems };
}

describe('scoreCsv', () => {
  it('gives every lead the score /batch-predict gives it', async () => {
    const leads = [...trainedFixture().leads, ...trainedFixture().leads]; // 6,000 rows: more than one output chunk
    const { text, summary } = await scoreText(mqlCsv(leads));
    expect(summary).toEqual({ rows: 6000, scored: 6000, rejected: 0 });
    const [header, ...rows] = text.trim().split('\n');
    expect(header).toBe('mql_id,probability,tier');
    const batch = await t.app.inject({ method: 'POST', url: '/batch-predict', payload: { leads: leads.slice(0, 1000).map(({ converted, won_date, ...lead }) => lead) } });
    batch.json().predictions.forEach((prediction: { mql_id: string; probability: number; tier: string }, i: number) => {
      expect(rows[i]).toBe(`${prediction.mql_id},${prediction.probability},${prediction.tier}`);
    });
    expect(rows).toHaveLength(6000);
    expect(rows[3000 + 7]).toBe(rows[7]);
  });

  it('reports bad rows with their line and reason, ignores extra columns, and keeps going', async () => {
    const csv = 'mql_id,first_contact_date,landing_page_id,origin,owner\na,2018-01-01,p,social,x\nb,2018-02-30,p,social,x\nc,2018-01-01\n,2018-01-01,p,,x\nd,2018-01-03,p,,x\n';
    const { text, summary, problems } = await scoreText(csv);
    expect(summary).toEqual({ rows: 5, scored: 2, rejected: 3 });
    expect(problems).toEqual([
      { file: 'leads.csv', line: 3, field: 'first_contact_date', message: expect.stringMatching(/real calendar date/) },
      { file: 'leads.csv', line: 4, field: 'row', message: 'has 2 fields, the header has 5' },
      { file: 'leads.csv', line: 5, field: 'mql_id', message: 'must not be empty' },
    ]);
    expect(text.trim().split('\n').map((row) => row.split(',')[0])).toEqual(['mql_id', 'a', 'd']);
  });

  it('stops at the first bad row when strict', async () => {
    await expect(scoreText('mql_id,first_contact_date,landing_page_id,origin\na,2018-01-01,p,x\nb,nope,p,x\n', { strict: true })).rejects.toThrow('leads.csv:3: first_contact_date must be a real calendar date');
  });

  it('runs as a command: file in, file out, summary and exit code', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'leadscore-score-'));
    const model = await saveArtifact(trainedFixture().outcome.artifact, dir);
    const input = path.join(dir, 'in.csv');
    writeFileSync(input, mqlCsv(trainedFixture().leads.slice(0, 10)) + 'bad,2018-13-01,p,x\n');
    const out = path.join(dir, 'out.csv');
    const { stderr } = await run(process.execPath, ['dist/cli/score.js', input, '--out', out, '--model', model]);
    expect(stderr).toMatch(/rejected in.csv:12: first_contact_date/);
    expect(stderr).toMatch(/scored 10 of 11 rows with model .*; 1 rejected/);
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(11);
    await expect(run(process.execPath, ['dist/cli/score.js', input, '--out', out, '--model', model, '--strict'])).rejects.toMatchObject({ code: 1 });
    await expect(run(process.execPath, ['dist/cli/score.js', path.join(dir, 'missing.csv'), '--model', model])).rejects.toMatchObject({ stderr: expect.stringMatching(/missing.csv: no such file/) });
  });
});

describe('scoreCsv and formula injection', () => {
  it('neutralises ids a spreadsheet would run as formulas, and leaves ordinary ids alone', async () => {
    const lead = trainedFixture().leads[0]!;
    const ids = [...FORMULA_PAYLOADS, lead.mql_id, 'lead-1'];
    const csv = `mql_id,first_contact_date,landing_page_id,origin\n${ids.map((id) => `${quoted(id)},${lead.first_contact_date},${lead.landing_page_id},${lead.origin ?? ''}`).join('\n')}\n`;
    const { text, summary } = await scoreText(csv);
    expect(summary).toEqual({ rows: ids.length, scored: ids.length, rejected: 0 });
    const records = parse(text, { columns: true }) as { mql_id: string; probability: string }[];
    expect(records.map((r) => r.mql_id)).toEqual([...FORMULA_PAYLOADS.map((id) => `'${id}`), lead.mql_id, 'lead-1']);
    const probability = new Scorer(trainedFixture().outcome.artifact).rate(lead).probability;
    for (const record of records) expect(Number(record.probability)).toBe(probability);
  });
});

// Concurrent: each case spawns the command, and most of that is starting Node and loading it.
describe.concurrent('the command never loses or half-writes its output', () => {
  let dir: string;
  let model: string;
  const PREVIOUS = 'mql_id,probability,tier\nkept,0.5,A\n';
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'leadscore-score-safe-'));
    model = await saveArtifact(trainedFixture().outcome.artifact, dir);
  });
  /** A folder with an existing output file and the given input (none when `text` is null). */
  const setUp = (name: string, text: string | null) => {
    const folder = mkdtempSync(path.join(dir, `${name}-`));
    const input = path.join(folder, `${name}.csv`);
    if (text !== null) writeFileSync(input, text);
    const out = path.join(folder, 'scored.csv');
    writeFileSync(out, PREVIOUS);
    return { input, out, files: () => readdirSync(folder).sort() };
  };
  const score = (input: string, out: string) =>
    run(process.execPath, ['dist/cli/score.js', input, '--out', out, '--model', model]).then(
      ({ stderr }) => ({ code: 0, stderr }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );
  const goodRows = (copies: number) => mqlCsv(Array.from({ length: copies }, () => trainedFixture().leads).flat());

  it('leaves an existing --out untouched when the input file is missing', async ({ expect }) => {
    const { input, out, files } = setUp('missing', null);
    const { code, stderr } = await score(input, out);
    expect(readFileSync(out, 'utf8')).toBe(PREVIOUS);
    expect(files()).toEqual(['scored.csv']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/missing.csv: no such file/);
  });

  it('changes nothing when an unclosed quote follows many good rows, and names the line it opens on', async ({ expect }) => {
    // 6,000 good rows, more than one output chunk's worth, before the quote swallows the rest of the file.
    const { input, out, files } = setUp('quote', `${goodRows(2)}cut,"2018-01-01,p,social\n${goodRows(1).replace(/^.*\n/, '')}`);
    const { code, stderr } = await score(input, out);
    expect(readFileSync(out, 'utf8')).toBe(PREVIOUS);
    expect(files()).toEqual(['quote.csv', 'scored.csv']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/quote.csv:6002: cannot read the CSV/);
  });

  it('refuses a file cut off mid-row, naming the line, instead of scoring the partial row', async ({ expect }) => {
    // 3,000 good rows, then a last row whose every field is known.
    const whole = `${goodRows(1)}last-lead,2018-01-01,${trainedFixture().leads[0]!.landing_page_id},organic_search\n`;
    const { input, out, files } = setUp('cut', whole.slice(0, -5)); // inside the last field: still four fields
    const { code, stderr } = await score(input, out);
    expect(readFileSync(out, 'utf8')).toBe(PREVIOUS);
    expect(files()).toEqual(['cut.csv', 'scored.csv']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/cut.csv:3002: .*cut off/);
    // Cut before the last fields, or inside a quoted field: refused by the reader too.
    await expect(scoreText(whole.slice(0, whole.lastIndexOf(',') - 3))).rejects.toThrow(/^leads.csv:3002: .*cut off/);
    await expect(scoreText(`${whole}"x-1,2018-01-0`)).rejects.toThrow(/^leads.csv:3003: cannot read the CSV/);
  });
});

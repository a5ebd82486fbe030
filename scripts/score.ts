// npm run score -- <leads.csv|-> [--out scored.csv] [--model <artifact or folder>] [--strict]
// Streams an MQL CSV of any size through the shipped scorer with constant memory.
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DataError, describeProblem, readCsv, zodProblems, type RowProblem } from '../src/data/csv.js';
import { LEAD_COLUMNS, LeadSchema } from '../src/features/lead.js';
import { loadArtifact } from '../src/model/artifact.js';
import { Scorer } from '../src/model/scorer.js';
import { projectRoot } from '../src/server/config.js';
import { scoresCsvHeader, scoresCsvRows } from '../src/data/csv-write.js';

export interface ScoreSummary {
  rows: number;
  scored: number;
  rejected: number;
}

export interface ScoreCsvOptions {
  file: string;
  strict?: boolean;
  onRejected?: (problem: RowProblem) => void;
  onProgress?: (rows: number) => void;
}

/** Scores CSV rows as they stream in; output is written in chunks that respect backpressure. */
export async function scoreCsv(input: Readable, output: Writable, scorer: Scorer, options: ScoreCsvOptions): Promise<ScoreSummary> {
  const summary: ScoreSummary = { rows: 0, scored: 0, rejected: 0 };
  const reject = (problem: RowProblem) => {
    if (options.strict) throw new DataError(describeProblem(problem), problem);
    summary.rejected++;
    options.onRejected?.(problem);
  };
  const countRow = (problem: RowProblem) => {
    summary.rows++;
    reject(problem);
  };
  let pending: { mql_id: string; probability: number; tier: string }[] = [];
  const flush = async () => {
    const text = scoresCsvRows(pending);
    pending = [];
    if (!output.write(text)) await once(output, 'drain');
  };
  if (!output.write(scoresCsvHeader(false))) await once(output, 'drain');
  for await (const { line, values } of readCsv(input, options.file, LEAD_COLUMNS.filter((c) => c !== 'origin'), countRow)) {
    summary.rows++;
    const parsed = LeadSchema.safeParse(values);
    if (!parsed.success) {
      for (const problem of zodProblems(options.file, line, parsed.error)) reject(problem);
      continue;
    }
    pending.push({ mql_id: parsed.data.mql_id, ...scorer.rate(parsed.data) });
    summary.scored++;
    if (pending.length === 4096) {
      await flush();
      options.onProgress?.(summary.rows);
    }
  }
  await flush();
  return summary;
}

async function main(): Promise<void> {
  const { values: args, positionals } = parseArgs({
    allowPositionals: true,
    options: { out: { type: 'string' }, model: { type: 'string' }, strict: { type: 'boolean', default: false } },
  });
  const inputPath = positionals[0];
  if (!inputPath || positionals.length > 1) throw new DataError('usage: npm run score -- <leads.csv | -> [--out scored.csv] [--model <artifact>] [--strict]');
  const { artifact } = await loadArtifact(args.model ?? path.join(projectRoot(), 'artifacts'));
  const scorer = new Scorer(artifact);
  const input = inputPath === '-' ? process.stdin : createReadStream(inputPath);
  const output = args.out ? createWriteStream(args.out) : process.stdout;
  const started = performance.now();
  const showProgress = process.stderr.isTTY;
  const summary = await scoreCsv(input, output, scorer, {
    file: inputPath === '-' ? 'stdin' : path.basename(inputPath),
    strict: args.strict,
    onRejected: (problem) => process.stderr.write(`rejected ${describeProblem(problem)}\n`),
    onProgress: showProgress ? (rows) => process.stderr.write(`\r${rows.toLocaleString('en-US')} rows…`) : undefined,
  });
  if (output !== process.stdout) await new Promise<void>((resolve, reject) => output.end((error?: Error | null) => (error ? reject(error) : resolve())));
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(
    `${showProgress ? '\r' : ''}scored ${summary.scored} of ${summary.rows} rows with model ${scorer.version}; ${summary.rejected} rejected; ${seconds.toFixed(1)} s (${Math.round(summary.rows / seconds).toLocaleString('en-US')} rows/s)\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`score: ${(error as Error).message}\n`);
    process.exit(1);
  });
}

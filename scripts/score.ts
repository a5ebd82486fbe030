// npm run score -- <leads.csv|-> [--out scored.csv] [--model <artifact or folder>] [--strict]
// Streams an MQL CSV of any size through the shipped scorer with constant memory.
import { createReadStream, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DataError, describeProblem, readCsv, zodProblems, type RowProblem } from '../src/data/csv.js';
import { createAtomicFile, scoresCsvHeader, scoresCsvRows, type ScoreRow } from '../src/data/csv-write.js';
import { LEAD_COLUMNS, LeadSchema } from '../src/features/lead.js';
import { loadArtifact } from '../src/model/artifact.js';
import { Scorer } from '../src/model/scorer.js';
import { projectRoot } from '../src/server/config.js';

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

/**
 * Scores CSV rows as they stream in; output goes out in chunks that respect backpressure, and
 * a failure of either side (a bad file, a full disk) rejects. The input must end with a line
 * break: a last row without one is taken for a file cut off mid-row and refused.
 */
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
  async function* chunks(): AsyncGenerator<string> {
    yield scoresCsvHeader(false);
    let pending: ScoreRow[] = [];
    const rows = readCsv(input, options.file, LEAD_COLUMNS.filter((c) => c !== 'origin'), countRow, { requireFinalLineBreak: true });
    for await (const { line, values } of rows) {
      summary.rows++;
      const parsed = LeadSchema.safeParse(values);
      if (!parsed.success) {
        for (const problem of zodProblems(options.file, line, parsed.error)) reject(problem);
        continue;
      }
      pending.push({ mql_id: parsed.data.mql_id, ...scorer.rate(parsed.data) });
      summary.scored++;
      if (pending.length === 4096) {
        yield scoresCsvRows(pending);
        pending = [];
        options.onProgress?.(summary.rows);
      }
    }
    yield scoresCsvRows(pending);
  }
  // The caller ends (or commits) the output: stdout must stay open, a file is renamed into place.
  await pipeline(chunks, output, { end: false });
  return summary;
}

/** Scoring stopped by a signal; the exit code says which, as a shell expects (130 for Ctrl-C). */
class Interrupted extends DataError {
  readonly exitCode: number;
  constructor(signal: NodeJS.Signals, out: string | undefined) {
    super(`interrupted by ${signal}${out ? `; ${out} was left as it was` : ''}`);
    this.exitCode = 128 + osConstants.signals[signal];
  }
}

const WRITE_ERRORS: Record<string, string> = {
  ENOENT: 'its folder does not exist',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOSPC: 'no space left on the device',
  EROFS: 'the file system is read-only',
};

/** Whether two paths name one existing file (also through links), so the output would replace the input. */
function sameFile(a: string, b: string): boolean {
  try {
    const [x, y] = [statSync(a), statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
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
  if (args.out && inputPath !== '-' && sameFile(inputPath, args.out)) throw new DataError(`--out ${args.out} is the input file; write the scores to another file`);
  const input = inputPath === '-' ? process.stdin : createReadStream(inputPath);
  // A file is written beside --out and renamed over it only when every row was read: a missing
  // or broken input, an interruption or a full disk leaves an existing --out as it was.
  const outFile = args.out ? createAtomicFile(args.out) : null;
  // Ctrl-C or a SIGTERM stops reading; the failure path below then removes the temporary file.
  const interrupted = (signal: NodeJS.Signals) => input.destroy(new Interrupted(signal, args.out));
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  const started = performance.now();
  const showProgress = process.stderr.isTTY;
  let summary: ScoreSummary;
  try {
    summary = await scoreCsv(input, outFile?.stream ?? process.stdout, scorer, {
      file: inputPath === '-' ? 'stdin' : path.basename(inputPath),
      strict: args.strict,
      onRejected: (problem) => process.stderr.write(`rejected ${describeProblem(problem)}\n`),
      onProgress: showProgress ? (rows) => process.stderr.write(`\r${rows.toLocaleString('en-US')} rows…`) : undefined,
    });
    await outFile?.commit();
  } catch (error) {
    await outFile?.abort();
    if (showProgress) process.stderr.write('\n');
    const code = (error as NodeJS.ErrnoException).code;
    if (!args.out && code === 'EPIPE') throw new DataError('stdout was closed before every score was written');
    if (args.out && code && !(error instanceof DataError)) throw new DataError(`cannot write ${args.out}: ${WRITE_ERRORS[code] ?? (error as Error).message}`);
    throw error;
  }
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(
    `${showProgress ? '\r' : ''}scored ${summary.scored} of ${summary.rows} rows with model ${scorer.version}; ${summary.rejected} rejected; ${seconds.toFixed(1)} s (${Math.round(summary.rows / seconds).toLocaleString('en-US')} rows/s)\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`score: ${(error as Error).message}\n`);
    process.exit(error instanceof Interrupted ? error.exitCode : 1);
  });
}

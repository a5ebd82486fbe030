// npm run train -- [--data <dir>] [--holdout-from YYYY-MM-DD] [--until YYYY-MM-DD] [--recalibrate last-month|none]
//                  [--out <dir>] [--strict] [--min-auc X]
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { DATASET_URL, describeProblem, loadOlist } from '../src/data/olist.js';
import { parseLeadDate } from '../src/features/lead.js';
import { publishArtifact, type Artifact, type PublishOptions } from '../src/model/artifact.js';
import type { Evaluation } from '../src/model/metrics.js';
import { RECALIBRATIONS, splitByDate, trainLeadModel, type Recalibration } from '../src/model/training.js';
import { REFERENCE_FIGURES } from '../src/report/references.js';

const DEFAULT_DATA = '../shared/data/olist';

/** A refusal the command reports as one line and exit code 1. */
export class TrainError extends Error {}

export interface TrainIo {
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  /** Passed to the artifact writer; tests use it to make a write fail. */
  writeFile?: PublishOptions['writeFile'];
}

const percent = (x: number) => `${(100 * x).toFixed(1)} %`;
const isDate = (text: string) => /^\d{4}-\d{2}-\d{2}$/.test(text) && parseLeadDate(text) !== null;

export function modelCard(artifact: Artifact, files: string[]): string {
  const { training_data: data, metrics, model, selection } = artifact;
  const row = (name: string, e: Pick<Evaluation, 'rocAuc' | 'brier' | 'logLoss'>) =>
    `  ${name.padEnd(52)} ${e.rocAuc.toFixed(3)}   ${e.brier.toFixed(4)}   ${e.logLoss.toFixed(4)}`;
  const monthRow = (name: string, e: { roc_auc: number; brier: number; log_loss: number }) => row(name, { rocAuc: e.roc_auc, brier: e.brier, logLoss: e.log_loss });
  const weights = Object.entries(model.weights).sort(([, a], [, b]) => b - a);
  const h = metrics.holdout;
  const ro = metrics.rolling_origin;
  const recal = model.recalibration;
  const hm = metrics.holdout_model;
  return [
    '',
    `MODEL CARD  lead-conversion ${artifact.model_version}`,
    `  data       ${data.leads} leads (${data.first_contact_from} … ${data.first_contact_to}), ${data.converted} converted (${percent(data.converted / data.leads)}), ${data.rejected_rows} rows rejected`,
    `  files      ${files.join(', ')}`,
    `  features   ${artifact.pipeline.steps.map((s) => `${s.feature} (${s.categories.length} categories)`).join(', ')}; every category kept, unseen ones → (other)`,
    `  model      L2 logistic regression, C=${model.solver.C}, ${model.solver.name}, ${model.solver.iterations} iterations, |gradient|∞=${model.solver.gradient_max_norm.toExponential(1)}, fit ${model.solver.fit_ms} ms`,
    `  C chosen   ${selection.chosen.C} of {${selection.grid.join(', ')}} on ${selection.windows.map((w) => w.from.slice(0, 7)).join(', ')}: ` +
      selection.candidates.map((c) => `C=${c.C} AUC ${c.roc_auc.toFixed(4)}±${c.roc_auc_se.toFixed(4)}`).join(', ') +
      ` (smallest C within one standard error of the best, C=${selection.best_C})`,
    recal.method === 'last-month'
      ? `  base rate  intercept shifted by ${recal.shift >= 0 ? '+' : ''}${recal.shift.toFixed(4)} so the mean prediction on ${recal.month} (${recal.leads} leads) is its rate ${percent(recal.observed_rate!)} (was ${percent(recal.mean_predicted_before!)}); ${recal.converted_after_cutoff} of its ${recal.converted} conversions were won on or after ${selection.cutoff}, which a retrain on that day would not have known`
      : '  base rate  not recalibrated (--recalibrate none)',
    '',
    `  ${`holdout: ${h.leads} leads from ${metrics.holdout_from}, ${h.converted} converted`.padEnd(52)} ROC AUC Brier    log loss`,
    row(`this procedure (C=${hm.C}${hm.recalibration.month ? `, rate of ${hm.recalibration.month}` : ''})`, h),
    row('training base rate as a constant', metrics.holdout_base_rate),
    // The data README's reference figures are for its split only.
    ...(metrics.holdout_from === REFERENCE_FIGURES.holdoutFrom
      ? [
          row('reference: original Python project', REFERENCE_FIGURES.originalPipeline),
          row('reference: scikit-learn one-hot + L2 LR, C=0.1', REFERENCE_FIGURES.scikitLearn),
        ]
      : []),
    `  PR AUC ${h.prAuc.toFixed(3)}; top 10 %: ${percent(h.top10.captured)} of conversions (lift ${h.top10.lift.toFixed(2)}); top 20 %: ${percent(h.top20.captured)} (lift ${h.top20.lift.toFixed(2)})`,
    '',
    `  ${'rolling origin: monthly retrain, scored on its month'.padEnd(52)} ROC AUC Brier    log loss`,
    ...ro.months.map((m) => monthRow(`${m.month}  ${String(m.leads).padStart(5)} leads, ${String(m.converted).padStart(3)} converted, C=${m.C}`, m)),
    monthRow(`mean over ${ro.months.length} months`, ro.mean),
    monthRow('  original Python project’s pipeline, same months', ro.reference_pipeline_mean),
    monthRow('  training base rate as a constant', ro.base_rate_mean),
    '',
    `  ${metrics.cross_validation.folds}-fold stratified CV AUC on all leads: ${metrics.cross_validation.meanAuc.toFixed(3)} ± ${metrics.cross_validation.stdAuc.toFixed(3)} (random folds flatter a drifting funnel)`,
    `  tiers (probability ≥): A ${artifact.tiers.A.toFixed(4)}, B ${artifact.tiers.B.toFixed(4)}, C ${artifact.tiers.C.toFixed(4)}, D below`,
    '',
    '  raises the odds most:  ' + weights.slice(0, 5).map(([n, w]) => `${n} ${w >= 0 ? '+' : ''}${w.toFixed(2)}`).join(', '),
    '  lowers the odds most:  ' + weights.slice(-5).reverse().map(([n, w]) => `${n} ${w.toFixed(2)}`).join(', '),
    '',
  ].join('\n');
}

/**
 * The command without the process around it: reads, trains, checks the quality gate, and only
 * then writes the artifact and its report and moves the default pointer, all or nothing.
 * Returns the artifact's path; throws TrainError or the underlying error on failure.
 */
export async function train(argv: string[], io: TrainIo = {}): Promise<string> {
  const started = performance.now();
  const stdout = io.stdout ?? ((text: string) => process.stdout.write(text));
  const stderr = io.stderr ?? ((text: string) => process.stderr.write(text));
  const progress = (message: string) => stderr(`[train ${((performance.now() - started) / 1000).toFixed(1)}s] ${message}\n`);
  const { values: args } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string' },
      'holdout-from': { type: 'string', default: '2018-04-01' },
      until: { type: 'string' },
      recalibrate: { type: 'string', default: 'last-month' },
      out: { type: 'string', default: 'artifacts' },
      strict: { type: 'boolean', default: false },
      'min-auc': { type: 'string' },
    },
  });
  const holdoutFrom = args['holdout-from']!;
  if (!isDate(holdoutFrom)) throw new TrainError(`--holdout-from must be a date YYYY-MM-DD, got "${holdoutFrom}"`);
  if (args.until !== undefined && !isDate(args.until)) throw new TrainError(`--until must be a date YYYY-MM-DD, got "${args.until}"`);
  if (args.until !== undefined && args.until <= holdoutFrom) throw new TrainError(`--until (${args.until}) must come after --holdout-from (${holdoutFrom})`);
  const recalibrate = args.recalibrate as Recalibration;
  if (!RECALIBRATIONS.includes(recalibrate)) throw new TrainError(`--recalibrate must be one of ${RECALIBRATIONS.join(', ')}, got "${args.recalibrate}"`);
  const minAuc = args['min-auc'] === undefined ? undefined : Number(args['min-auc']);
  if (minAuc !== undefined && !(minAuc >= 0 && minAuc <= 1)) throw new TrainError(`--min-auc must be a number from 0 to 1, got "${args['min-auc']}"`);
  const dataDir = args.data ?? DEFAULT_DATA;
  if (!args.data && !existsSync(DEFAULT_DATA)) {
    throw new TrainError(`no --data given and ${path.resolve(DEFAULT_DATA)} does not exist. Download the "Marketing Funnel by Olist" data set from ${DATASET_URL}, unzip it and run: npm run train -- --data <folder>`);
  }

  progress(`reading ${path.resolve(dataDir)}`);
  const data = await loadOlist(dataDir, { strict: args.strict });
  progress(`read ${data.files.map((f) => `${f.file}: ${f.rows} rows`).join('; ')}`);
  progress(`${data.leads.length} leads, ${data.leads.filter((lead) => lead.converted).length} converted, ${data.problems.length} rows rejected`);
  for (const problem of data.problems.slice(0, 20)) progress(`  rejected ${describeProblem(problem)}`);
  if (data.problems.length > 20) progress(`  … and ${data.problems.length - 20} more`);
  let leads = data.leads;
  if (args.until !== undefined) {
    leads = splitByDate(data.leads, args.until).before;
    progress(`training as if on ${args.until}: ${leads.length} leads first contacted before it (labels as the data records them)`);
  }

  const outcome = trainLeadModel({ leads, files: data.files, rejectedRows: data.problems.length }, { holdoutFrom, recalibrate, onProgress: progress });
  const { artifact } = outcome;
  stdout(modelCard(artifact, data.files.map((f) => `${f.file} sha256 ${f.sha256.slice(0, 12)}…`)));
  // The gate comes before any write: a model that fails it never reaches the folder, let alone the pointer.
  if (minAuc !== undefined && !(artifact.metrics.holdout.rocAuc >= minAuc)) {
    throw new TrainError(`holdout ROC AUC ${artifact.metrics.holdout.rocAuc.toFixed(4)} is below the floor ${minAuc}; nothing was written and the default model is unchanged`);
  }

  // Loaded only now: the charts' libraries take a second to import, which a refused model never needs.
  const { buildReport } = await import('../src/report/report.js');
  const report = await buildReport({ leads, rejectedRows: data.problems.length, artifact });
  await mkdir(args.out!, { recursive: true });
  const reportName = `lead-conversion-${artifact.model_version}.report.html`;
  const file = await publishArtifact(artifact, args.out!, { companions: [{ name: reportName, content: report }], writeFile: io.writeFile });
  progress(`wrote ${file} and ${reportName}, then made it the default (${path.join(args.out!, 'latest.json')})`);
  stdout(`  total ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return file;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  train(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`train: ${(error as Error).message}\n`);
    process.exit(1);
  });
}

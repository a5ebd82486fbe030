// npm run train -- [--data <dir>] [--holdout-from YYYY-MM-DD] [--out <dir>] [--strict] [--min-auc X]
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DataError, DATASET_URL, describeProblem, loadOlist } from '../src/data/olist.js';
import { parseLeadDate } from '../src/features/lead.js';
import { saveArtifact, type Artifact } from '../src/model/artifact.js';
import type { Evaluation } from '../src/model/metrics.js';
import { trainLeadModel } from '../src/model/training.js';
import { buildReport } from '../src/report/report.js';
import { writeFile } from 'node:fs/promises';

const DEFAULT_DATA = '../shared/data/olist';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string' },
    'holdout-from': { type: 'string', default: '2018-04-01' },
    out: { type: 'string', default: 'artifacts' },
    strict: { type: 'boolean', default: false },
    'min-auc': { type: 'string' },
  },
});

const progress = (message: string) => process.stderr.write(`[train ${((performance.now() - started) / 1000).toFixed(1)}s] ${message}\n`);
const percent = (x: number) => `${(100 * x).toFixed(1)} %`;
const started = performance.now();

function fail(message: string): never {
  process.stderr.write(`train: ${message}\n`);
  process.exit(1);
}

function modelCard(artifact: Artifact, files: string[]): string {
  const { training_data: data, metrics, model, selection } = artifact;
  const row = (name: string, e: Pick<Evaluation, 'rocAuc' | 'brier' | 'logLoss'>) =>
    `  ${name.padEnd(52)} ${e.rocAuc.toFixed(3)}   ${e.brier.toFixed(4)}   ${e.logLoss.toFixed(4)}`;
  const weights = Object.entries(model.weights).sort(([, a], [, b]) => b - a);
  const h = metrics.holdout;
  return [
    '',
    `MODEL CARD  lead-conversion ${artifact.model_version}`,
    `  data       ${data.leads} leads (${data.first_contact_from} … ${data.first_contact_to}), ${data.converted} converted (${percent(data.converted / data.leads)}), ${data.rejected_rows} rows rejected`,
    `  files      ${files.join(', ')}`,
    `  features   ${artifact.pipeline.steps.map((s) => `${s.feature} (${s.categories.length} categories)`).join(', ')}; ${artifact.pipeline.settings.minCategoryCount > 1 ? `categories seen < ${artifact.pipeline.settings.minCategoryCount}× → (other)` : 'every category kept'}, unseen ones → (other)`,
    `  model      L2 logistic regression, C=${model.solver.C}, ${model.solver.name}, ${model.solver.iterations} iterations, |gradient|∞=${model.solver.gradient_max_norm.toExponential(1)}, fit ${model.solver.fit_ms} ms`,
    `  chosen by  validation AUC ${selection.validation_auc.toFixed(3)} on ${selection.validate_from} … ${selection.validate_until} (fit before it), ${selection.candidates} candidates`,
    '',
    `  ${`holdout: ${h.leads} leads from ${metrics.holdout_from}, ${h.converted} converted`.padEnd(52)} ROC AUC Brier    log loss`,
    row('this model', h),
    row('training base rate as a constant', metrics.holdout_base_rate),
    // The data README's reference figures are for its split only.
    ...(metrics.holdout_from === '2018-04-01'
      ? [
          row('reference: base rate as a constant', { rocAuc: 0.5, brier: 0.1044, logLoss: 0.3646 }),
          row('reference: original Python project', { rocAuc: 0.68, brier: 0.1003, logLoss: 0.3447 }),
          row('reference: scikit-learn one-hot + L2 LR, C=0.1', { rocAuc: 0.686, brier: 0.1002, logLoss: 0.3439 }),
        ]
      : []),
    `  PR AUC ${h.prAuc.toFixed(3)}; top 10 %: ${percent(h.top10.captured)} of conversions (lift ${h.top10.lift.toFixed(2)}); top 20 %: ${percent(h.top20.captured)} (lift ${h.top20.lift.toFixed(2)})`,
    `  ${metrics.cross_validation.folds}-fold stratified CV AUC on all leads: ${metrics.cross_validation.meanAuc.toFixed(3)} ± ${metrics.cross_validation.stdAuc.toFixed(3)} (random folds flatter a drifting funnel)`,
    `  tiers (probability ≥): A ${artifact.tiers.A.toFixed(4)}, B ${artifact.tiers.B.toFixed(4)}, C ${artifact.tiers.C.toFixed(4)}, D below`,
    '',
    '  raises the odds most:  ' + weights.slice(0, 5).map(([n, w]) => `${n} ${w >= 0 ? '+' : ''}${w.toFixed(2)}`).join(', '),
    '  lowers the odds most:  ' + weights.slice(-5).reverse().map(([n, w]) => `${n} ${w.toFixed(2)}`).join(', '),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const holdoutFrom = args['holdout-from']!;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(holdoutFrom) || !parseLeadDate(holdoutFrom)) fail(`--holdout-from must be a date YYYY-MM-DD, got "${holdoutFrom}"`);
  const dataDir = args.data ?? DEFAULT_DATA;
  if (!args.data && !existsSync(DEFAULT_DATA)) {
    fail(`no --data given and ${path.resolve(DEFAULT_DATA)} does not exist. Download the "Marketing Funnel by Olist" data set from ${DATASET_URL}, unzip it and run: npm run train -- --data <folder>`);
  }

  progress(`reading ${path.resolve(dataDir)}`);
  const data = await loadOlist(dataDir, { strict: args.strict });
  const converted = data.leads.filter((lead) => lead.converted).length;
  progress(`read ${data.files.map((f) => `${f.file}: ${f.rows} rows`).join('; ')}`);
  progress(`${data.leads.length} leads, ${converted} converted, ${data.problems.length} rows rejected`);
  for (const problem of data.problems.slice(0, 20)) progress(`  rejected ${describeProblem(problem)}`);
  if (data.problems.length > 20) progress(`  … and ${data.problems.length - 20} more`);

  const outcome = trainLeadModel(
    { leads: data.leads, files: data.files, rejectedRows: data.problems.length },
    { holdoutFrom, onProgress: progress },
  );
  await mkdir(args.out!, { recursive: true });
  const file = await saveArtifact(outcome.artifact, args.out!);
  progress(`wrote ${file} and made it the default (${path.join(args.out!, 'latest.json')})`);
  const reportFile = file.replace(/\.json$/, '.report.html');
  await writeFile(reportFile, await buildReport({ leads: data.leads, rejectedRows: data.problems.length, artifact: outcome.artifact }));
  progress(`wrote the data analysis and model card to ${reportFile}`);
  process.stdout.write(modelCard(outcome.artifact, data.files.map((f) => `${f.file} sha256 ${f.sha256.slice(0, 12)}…`)));
  process.stdout.write(`  total ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

  const minAuc = args['min-auc'] === undefined ? undefined : Number(args['min-auc']);
  if (minAuc !== undefined && !(outcome.artifact.metrics.holdout.rocAuc >= minAuc)) {
    fail(`holdout ROC AUC ${outcome.artifact.metrics.holdout.rocAuc.toFixed(4)} is below the floor ${minAuc}`);
  }
}

main().catch((error: unknown) => fail(error instanceof DataError ? error.message : (error as Error).message));

// npm run train -- [--data <dir>] [--holdout-from YYYY-MM-DD] [--until YYYY-MM-DD] [--recalibrate last-month|none]
//                  [--out <dir>] [--strict] [--min-auc X]
// npm run train -- --from-store [--store-url <url>] [--data <dir>] [--make-default] [same options]
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { DATASET_URL, describeProblem, loadOlist, type OlistData } from '../src/data/olist.js';
import { isoDay, parseLeadDate, type LabelledLead } from '../src/features/lead.js';
import { artifactFileName, POINTER_FILE, publishArtifact, type Artifact, type PublishOptions, type TrainingSource } from '../src/model/artifact.js';
import type { Evaluation } from '../src/model/metrics.js';
import { combineSources } from '../src/model/training-set.js';
import { addMonths, endOfData, RECALIBRATIONS, splitByDate, trainLeadModel, type Recalibration } from '../src/model/training.js';
import { REFERENCE_FIGURES } from '../src/report/references.js';
import { ConfigError, loadConfig } from '../src/server/config.js';
import { COMMAND_READ_TIMEOUT_MS, describeLocation, openStore, parseStoreOption, StoreConfigError } from '../src/store/index.js';

const DEFAULT_DATA = '../shared/data/olist';

/** A refusal the command reports as one line and exit code 1. */
export class TrainError extends Error {}

export interface TrainIo {
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  /** Passed to the artifact writer; tests use it to make a write fail. */
  writeFile?: PublishOptions['writeFile'];
  /** The environment STORE_URL, MODEL_PATH and OUTCOME_HORIZON_DAYS are read from, as the server reads them (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** The environment's configuration, read exactly as the server reads it; a bad variable is a one-line refusal. */
function serverConfig(env: NodeJS.ProcessEnv) {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new TrainError(error.message);
    throw error;
  }
}

const describeSource = (source: TrainingSource) =>
  source.kind === 'store'
    ? `store ${source.location}: ${source.leads} leads with a known outcome, ${source.converted} converted`
    : `files ${source.location}: ${source.leads} leads, ${source.converted} converted; ${source.shared_with_store} also in the store (the store's outcome used, ${source.outcome_changed_by_store} changed by it), ${source.used} added`;

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
    ...(data.sources ? data.sources.map((source, i) => `  ${i ? '          ' : 'sources   '} ${describeSource(source)}`) : []),
    ...(files.length ? [`  files      ${files.join(', ')}`] : []),
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

/** What a training run reads: the Olist files, the store's leads with known outcomes, or both. */
interface TrainingLeads {
  leads: LabelledLead[];
  data: OlistData | null;
  sources?: TrainingSource[];
}

/**
 * The command without the process around it: reads, trains, checks the quality gate, and only
 * then writes the artifact and its report and (unless trained from the store without
 * --make-default) moves the default pointer, all or nothing. Returns the artifact's path;
 * throws TrainError or the underlying error on failure.
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
      'holdout-from': { type: 'string' },
      until: { type: 'string' },
      recalibrate: { type: 'string', default: 'last-month' },
      out: { type: 'string' },
      strict: { type: 'boolean', default: false },
      'min-auc': { type: 'string' },
      'from-store': { type: 'boolean', default: false },
      'store-url': { type: 'string' },
      'make-default': { type: 'boolean', default: false },
    },
  });
  const fromStore = args['from-store']!;
  for (const option of ['store-url', 'make-default'] as const) {
    if (!fromStore && args[option] !== undefined && args[option] !== false) throw new TrainError(`--${option} goes with --from-store`);
  }
  const givenHoldout = args['holdout-from'];
  if (givenHoldout !== undefined && !isDate(givenHoldout)) throw new TrainError(`--holdout-from must be a date YYYY-MM-DD, got "${givenHoldout}"`);
  if (args.until !== undefined && !isDate(args.until)) throw new TrainError(`--until must be a date YYYY-MM-DD, got "${args.until}"`);
  // Without --from-store the holdout is the data README's split; from the store it follows the data (below).
  const fixedHoldout = givenHoldout ?? (fromStore ? undefined : '2018-04-01');
  if (args.until !== undefined && fixedHoldout !== undefined && args.until <= fixedHoldout) throw new TrainError(`--until (${args.until}) must come after --holdout-from (${fixedHoldout})`);
  const recalibrate = args.recalibrate as Recalibration;
  if (!RECALIBRATIONS.includes(recalibrate)) throw new TrainError(`--recalibrate must be one of ${RECALIBRATIONS.join(', ')}, got "${args.recalibrate}"`);
  const minAuc = args['min-auc'] === undefined ? undefined : Number(args['min-auc']);
  if (minAuc !== undefined && !(minAuc >= 0 && minAuc <= 1)) throw new TrainError(`--min-auc must be a number from 0 to 1, got "${args['min-auc']}"`);
  const config = fromStore ? serverConfig(io.env ?? process.env) : null;
  let out = args.out ?? (config ? config.modelPath : 'artifacts');
  if (config && args.out === undefined && out.endsWith('.json')) {
    throw new TrainError(`MODEL_PATH names one artifact file (${out}); a new model needs a models folder: pass --out <folder>`);
  }
  out = path.basename(out) === POINTER_FILE ? path.dirname(out) : out;
  if (!fromStore && !args.data && !existsSync(DEFAULT_DATA)) {
    throw new TrainError(`no --data given and ${path.resolve(DEFAULT_DATA)} does not exist. Download the "Marketing Funnel by Olist" data set from ${DATASET_URL}, unzip it and run: npm run train -- --data <folder>`);
  }

  const input: TrainingLeads = { leads: [], data: null };
  if (!fromStore || args.data) {
    const dataDir = args.data ?? DEFAULT_DATA;
    progress(`reading ${path.resolve(dataDir)}`);
    const data = await loadOlist(dataDir, { strict: args.strict });
    progress(`read ${data.files.map((f) => `${f.file}: ${f.rows} rows`).join('; ')}`);
    progress(`${data.leads.length} leads, ${data.leads.filter((lead) => lead.converted).length} converted, ${data.problems.length} rows rejected`);
    for (const problem of data.problems.slice(0, 20)) progress(`  rejected ${describeProblem(problem)}`);
    if (data.problems.length > 20) progress(`  … and ${data.problems.length - 20} more`);
    input.data = data;
    input.leads = data.leads;
    if (args.until !== undefined) {
      input.leads = splitByDate(data.leads, args.until).before;
      progress(`training as if on ${args.until}: ${input.leads.length} leads first contacted before it (labels as the data records them)`);
    }
  }
  if (fromStore) {
    const location = args['store-url'] !== undefined ? parseStoreLocation(args['store-url']) : config!.store;
    if (location.kind === 'none') throw new TrainError('the store is off (STORE_URL=none): there is nothing to train from; pass --store-url <url>');
    const where = describeLocation(location);
    // Opening a SQLite store creates it: a mistyped path would train on nothing and leave an empty file behind.
    if (location.kind === 'sqlite' && !existsSync(location.path)) throw new TrainError(`there is no store at ${location.path}: point --store-url (or STORE_URL) at the service's store`);
    progress(`reading the scored leads with a known outcome from ${where}${args.until !== undefined ? ` first contacted before ${args.until}` : ''}`);
    const store = (await openStore(location, { outcomeHorizonDays: config!.outcomeHorizonDays, readTimeoutMs: COMMAND_READ_TIMEOUT_MS }))!;
    let stored: LabelledLead[];
    // Leads still without an outcome, by month of first contact: they are left out, so a month
    // with many of them holds its conversions but only those losses the CRM reported.
    const pending = new Map<string, number>();
    try {
      stored = await store.labelledLeads(args.until !== undefined ? { first_contact_before: args.until } : {});
      for await (const chunk of store.exportPredictions({ outcome: 'unknown' })) {
        for (const lead of chunk) {
          if (args.until !== undefined && isoDay(lead.first_contact_date) >= args.until) continue;
          const month = lead.first_contact_date.slice(0, 7);
          pending.set(month, (pending.get(month) ?? 0) + 1);
        }
      }
    } finally {
      await store.close();
    }
    const converted = stored.filter((lead) => lead.converted).length;
    const pendingTotal = [...pending.values()].reduce((a, b) => a + b, 0);
    progress(
      `${stored.length} leads with a known outcome in the store, ${converted} converted (a lead silent for ${config!.outcomeHorizonDays} days after first contact counts as lost); ` +
        `${pendingTotal} scored leads have no outcome yet and are left out` +
        (pendingTotal ? ` (by month of first contact: ${[...pending].sort().map(([month, n]) => `${month} ${n}`).join(', ')})` : ''),
    );
    if (pendingTotal) {
      progress(
        '  a month with leads left out keeps all its conversions but only the losses the CRM reported, so its conversion rate (and the intercept matched to the last full month) reads high: ' +
          'report lost leads too (POST /outcomes with converted: false), or train with --until the first day of the earliest month listed',
      );
    }
    const combined = combineSources({ location: where, leads: stored }, input.data ? { location: path.resolve(args.data!), leads: input.leads } : undefined);
    if (input.data) {
      progress(
        `with the files: ${combined.leads.length} leads; ${combined.shared} are in both, and for those the store's record and outcome are used (it changed ${combined.outcomeChanged} outcome(s) of the files)`,
      );
    }
    input.leads = combined.leads;
    input.sources = combined.sources;
    if (!input.leads.length) throw new TrainError(`the store at ${where} holds no scored lead with a known outcome${args.until !== undefined ? ` before ${args.until}` : ''}: POST /outcomes first, or add --data`);
  }

  // From the store, the holdout is the last two calendar months the leads reach into, unless given.
  const holdoutFrom = fixedHoldout ?? addMonths(`${endOfData(input.leads).slice(0, 8)}01`, -2);
  if (fixedHoldout === undefined) progress(`holdout: the leads from ${holdoutFrom} on (the last two months of the data; --holdout-from to choose)`);
  const files = input.data?.files ?? [];
  const rejectedRows = input.data?.problems.length ?? 0;
  const outcome = trainLeadModel({ leads: input.leads, files, rejectedRows, ...(input.sources ? { sources: input.sources } : {}) }, { holdoutFrom, recalibrate, onProgress: progress });
  const { artifact } = outcome;
  stdout(modelCard(artifact, files.map((f) => `${f.file} sha256 ${f.sha256.slice(0, 12)}…`)));
  // The gate comes before any write: a model that fails it never reaches the folder, let alone the pointer.
  if (minAuc !== undefined && !(artifact.metrics.holdout.rocAuc >= minAuc)) {
    throw new TrainError(`holdout ROC AUC ${artifact.metrics.holdout.rocAuc.toFixed(4)} is below the floor ${minAuc}; nothing was written and the default model is unchanged`);
  }
  const makeDefault = !fromStore || args['make-default']!;
  const target = path.join(out, artifactFileName(artifact.model_version));
  // Beside a default it does not replace, an artifact must never be overwritten: it may be the default itself.
  if (!makeDefault && existsSync(target)) {
    throw new TrainError(`${target} already exists: the same leads gave the same model today; nothing was written`);
  }

  // Loaded only now: the charts' libraries take a second to import, which a refused model never needs.
  const { buildReport } = await import('../src/report/report.js');
  const report = await buildReport({ leads: input.leads, rejectedRows, artifact });
  await mkdir(out, { recursive: true });
  const reportName = `lead-conversion-${artifact.model_version}.report.html`;
  const file = await publishArtifact(artifact, out, { companions: [{ name: reportName, content: report }], writeFile: io.writeFile, makeDefault });
  if (makeDefault) progress(`wrote ${file} and ${reportName}, then made it the default (${path.join(out, POINTER_FILE)})`);
  else progress(`wrote ${file} and ${reportName}; the default (${path.join(out, POINTER_FILE)}) is unchanged: npm run promote -- ${artifact.model_version} compares it with the champion and promotes it only if it is better`);
  stdout(`  total ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return file;
}

function parseStoreLocation(url: string) {
  try {
    return parseStoreOption(url);
  } catch (error) {
    if (error instanceof StoreConfigError) throw new TrainError(error.message);
    throw error;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  train(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`train: ${(error as Error).message}\n`);
    process.exit(1);
  });
}

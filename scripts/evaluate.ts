// npm run evaluate -- [--model <artifact or folder>] [--data <dir>] --from YYYY-MM-DD [--until YYYY-MM-DD]
// Scores the labelled leads of a period with an artifact, through the same scorer the service
// uses, and prints how it did: the check a team makes on the months after a retrain.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DATASET_URL, loadOlist } from '../src/data/olist.js';
import { parseLeadDate } from '../src/features/lead.js';
import { loadArtifact } from '../src/model/artifact.js';
import { evaluate } from '../src/model/metrics.js';
import { Scorer } from '../src/model/scorer.js';
import { labelsOf, leadsBetween } from '../src/model/training.js';

const DEFAULT_DATA = '../shared/data/olist';
const isDate = (text: string) => /^\d{4}-\d{2}-\d{2}$/.test(text) && parseLeadDate(text) !== null;

try {
  const { values: args } = parseArgs({ options: { model: { type: 'string', default: 'artifacts' }, data: { type: 'string' }, from: { type: 'string' }, until: { type: 'string', default: '9999-12-31' } } });
  if (!args.from || !isDate(args.from)) throw new Error(`--from must be a date YYYY-MM-DD, got ${JSON.stringify(args.from ?? null)}`);
  if (!isDate(args.until!)) throw new Error(`--until must be a date YYYY-MM-DD, got "${args.until}"`);
  const dataDir = args.data ?? DEFAULT_DATA;
  if (!args.data && !existsSync(DEFAULT_DATA)) throw new Error(`no --data given and ${path.resolve(DEFAULT_DATA)} does not exist; download the data set from ${DATASET_URL}`);
  const { file, artifact } = await loadArtifact(args.model!);
  const data = await loadOlist(dataDir);
  const leads = leadsBetween(data.leads, args.from, args.until!);
  const labels = labelsOf(leads);
  if (leads.length === 0) throw new Error(`no leads first contacted from ${args.from} to before ${args.until}`);
  const scorer = new Scorer(artifact);
  const e = evaluate(labels, Float64Array.from(leads, (lead) => scorer.probability(lead)));
  process.stdout.write(
    `${path.basename(file)} (trained on ${artifact.training_data.first_contact_from} … ${artifact.training_data.first_contact_to}, C=${artifact.model.solver.C}) on ${e.leads} leads from ${args.from}` +
      `${args.until === '9999-12-31' ? '' : ` to before ${args.until}`}, ${e.converted} converted:\n` +
      `  ROC AUC ${e.rocAuc.toFixed(4)}  Brier ${e.brier.toFixed(4)}  log loss ${e.logLoss.toFixed(4)}  PR AUC ${e.prAuc.toFixed(4)}\n`,
  );
} catch (error) {
  process.stderr.write(`evaluate: ${(error as Error).message}\n`);
  process.exit(1);
}

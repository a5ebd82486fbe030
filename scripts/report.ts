// npm run report -- [--data <dir>] [--model <artifact or folder>] [--out report.html]
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DATASET_URL, loadOlist } from '../src/data/olist.js';
import { loadArtifact } from '../src/model/artifact.js';
import { mkdir } from 'node:fs/promises';
import { buildReportWithCharts } from '../src/report/report.js';

const DEFAULT_DATA = '../shared/data/olist';
const { values: args } = parseArgs({
  options: {
    data: { type: 'string' },
    model: { type: 'string', default: 'artifacts' },
    out: { type: 'string', default: 'report.html' },
    'charts-dir': { type: 'string' }, // also write each chart as <name>.svg there
  },
});

try {
  const dataDir = args.data ?? DEFAULT_DATA;
  if (!args.data && !existsSync(DEFAULT_DATA)) throw new Error(`no --data given and ${path.resolve(DEFAULT_DATA)} does not exist; download the data set from ${DATASET_URL}`);
  const data = await loadOlist(dataDir);
  const { artifact } = await loadArtifact(args.model!);
  const { html, charts } = await buildReportWithCharts({ leads: data.leads, rejectedRows: data.problems.length, artifact });
  await writeFile(args.out!, html);
  if (args['charts-dir']) {
    await mkdir(args['charts-dir'], { recursive: true });
    for (const [name, svg] of Object.entries(charts)) await writeFile(path.join(args['charts-dir'], `${name}.svg`), svg);
  }
  process.stderr.write(`wrote ${args.out} (model ${artifact.model_version}, ${data.leads.length} leads)\n`);
} catch (error) {
  process.stderr.write(`report: ${(error as Error).message}\n`);
  process.exit(1);
}

// npm run compare -- [--data <dir>] [--steps N]: the feature and solver comparisons the README reports.
import { parseArgs } from 'node:util';
import { Matrix } from 'ml-matrix';
import LogisticRegression from 'ml-logistic-regression';
import { loadOlist } from '../src/data/olist.js';
import { Pipeline } from '../src/features/pipeline.js';
import { fitLogistic, predictProbabilities } from '../src/model/logistic.js';
import { evaluate, logLoss } from '../src/model/metrics.js';
import { DEFAULT_GRID, fitLeads, labelsOf, scoreLeads, selectHyperParameters, splitByDate } from '../src/model/training.js';

const { values: args } = parseArgs({
  options: { data: { type: 'string', default: '../shared/data/olist' }, 'holdout-from': { type: 'string', default: '2018-04-01' }, steps: { type: 'string', default: '1000' } },
});
const holdoutFrom = args['holdout-from']!;
const data = await loadOlist(args.data!);
const { before: train, after: holdout } = splitByDate(data.leads, holdoutFrom);
const holdoutLabels = labelsOf(holdout);
const f = (x: number, digits = 4) => x.toFixed(digits);

console.log(`## Features (each set with its own C and rare-category threshold chosen by validation on the two months before ${holdoutFrom})\n`);
console.log('| features | chosen C | min count | validation AUC | holdout ROC AUC | holdout Brier | holdout log loss |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const features of DEFAULT_GRID.features) {
  let params = { features, minCategoryCount: 1, C: 0.1 };
  let validation = 'none beats the base rate’s log loss';
  try {
    const selection = selectHyperParameters(train, holdoutFrom, { ...DEFAULT_GRID, features: [features] });
    params = selection.best.params;
    validation = f(selection.best.validationAuc, 3);
  } catch {
    // an unseen calendar month cannot be calibrated: shown at C=0.1, every category, for comparison
  }
  const e = evaluate(holdoutLabels, scoreLeads(fitLeads(train, params), holdout));
  console.log(`| ${features.join(' + ')} | ${params.C} | ${params.minCategoryCount} | ${validation} | ${f(e.rocAuc, 3)} | ${f(e.brier)} | ${f(e.logLoss)} |`);
}

console.log(`\n## Solvers (one-hot origin + landing_page_id, every category kept, fit on ${train.length} leads)\n`);
console.log('| solver | objective | fit time | holdout ROC AUC | holdout Brier | holdout log loss |');
console.log('| --- | --- | --- | --- | --- | --- |');
const pipeline = new Pipeline({ features: ['origin', 'landing_page_id'], minCategoryCount: 1 }).fit(train);
const design = (leads: typeof train) => ({ rows: leads.length, activePerRow: 2, featureCount: pipeline.featureCount, indices: pipeline.transformAll(leads) });
const trainDesign = design(train);
const holdoutDesign = design(holdout);
for (const C of [0.1, 1e6]) {
  const started = performance.now();
  const fit = fitLogistic(trainDesign, labelsOf(train), { C });
  const ms = performance.now() - started;
  const e = evaluate(holdoutLabels, predictProbabilities(fit, holdoutDesign));
  console.log(`| Newton–Cholesky (ours), ${fit.iterations} iterations | L2, C=${C} | ${f(ms, 1)} ms | ${f(e.rocAuc, 3)} | ${f(e.brier)} | ${f(e.logLoss)} |`);
}

// ml-logistic-regression wants dense matrices; an all-ones column stands in for the intercept it lacks.
const dense = (d: ReturnType<typeof design>) => {
  const x = Matrix.zeros(d.rows, d.featureCount + 1);
  for (let i = 0; i < d.rows; i++) {
    x.set(i, d.featureCount, 1);
    for (let s = 0; s < d.activePerRow; s++) x.set(i, d.indices[i * d.activePerRow + s]!, 1);
  }
  return x;
};
const steps = Number(args.steps);
const gd = new LogisticRegression({ numSteps: steps, learningRate: 5e-4 });
const started = performance.now();
gd.train(dense(trainDesign), Matrix.columnVector(Array.from(labelsOf(train))));
const ms = performance.now() - started;
// Its one-vs-all classifier 0 is trained with y = 1 for "not class 0", i.e. converted.
const gdScores = Float64Array.from((gd as unknown as { classifiers: { testScores(x: Matrix): number[] }[] }).classifiers[0]!.testScores(dense(holdoutDesign)));
const e = evaluate(holdoutLabels, gdScores);
console.log(`| ml-logistic-regression 2.0, ${steps} gradient steps | none (no L2) | ${f(ms / 1000, 1)} s | ${f(e.rocAuc, 3)} | ${f(e.brier)} | ${f(logLoss(holdoutLabels, gdScores))} |`);

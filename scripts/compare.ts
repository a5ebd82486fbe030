// npm run compare -- [--data <dir>] [--steps N] [--only selection,cutoffs,features,censoring,drift,solvers]
// The comparisons the README reports: selection recipes, cut-offs, feature sets, label censoring,
// drift statistics on the real data, and solvers.
import { parseArgs } from 'node:util';
import { Matrix } from 'ml-matrix';
import LogisticRegression from 'ml-logistic-regression';
import { loadOlist } from '../src/data/olist.js';
import type { LabelledLead, Lead } from '../src/features/lead.js';
import { isoDay } from '../src/features/lead.js';
import { Pipeline, type FeatureName } from '../src/features/pipeline.js';
import { buildDriftReference, countLeads, driftReport, type DriftReference } from '../src/model/drift.js';
import { fitLogistic, predictProbabilities } from '../src/model/logistic.js';
import { brierScore, evaluate, logLoss, rocAuc, seededRandom } from '../src/model/metrics.js';
import { fitReferencePipeline } from '../src/model/reference-pipeline.js';
import { tierCutPoints } from '../src/model/tiers.js';
import {
  addMonths,
  fitLeads,
  labelsOf,
  LeadTimeline,
  leadsBetween,
  monthsOf,
  scoreLeads,
  splitByDate,
  type HyperParameters,
  type ProcedureSettings,
} from '../src/model/training.js';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/data/olist' },
    steps: { type: 'string', default: '1000' },
    only: { type: 'string', default: 'selection,cutoffs,features,censoring,drift,solvers' },
  },
});
const sections = new Set(args.only!.split(','));
const data = await loadOlist(args.data!);
const leads = data.leads;
const f = (x: number, digits = 4) => x.toFixed(digits);
const CUT = '2018-04-01';
const RO_MONTHS = monthsOf(leads).slice(-5);

type Scorer = (test: readonly Lead[]) => ArrayLike<number>;
/** A recipe: given the leads before a cut-off (and the cut-off), a way to score later leads. */
type Recipe = (cutoff: string) => Scorer;

function timelineRecipe(settings: ProcedureSettings, from: readonly LabelledLead[] = leads): Recipe {
  const timeline = new LeadTimeline(from, settings);
  return (cutoff) => {
    const model = timeline.train(cutoff).fitted;
    return (test) => scoreLeads(model, test);
  };
}

// The search training used before: 150 candidates (C × rare-category threshold × feature set),
// fitted before the last two months before the cut-off and validated on those two months.
const WIDE_GRID = {
  C: [0.01, 0.03, 0.1, 0.3, 1, 3],
  minCategoryCount: [1, 2, 3, 5, 10],
  features: [['origin'], ['landing_page_id'], ['origin', 'landing_page_id'], ['origin', 'landing_page_id', 'weekday'], ['origin', 'landing_page_id', 'month_of_year']] as FeatureName[][],
};
function wideSearch(train: readonly LabelledLead[], cutoff: string): HyperParameters {
  const { before, after } = splitByDate(train, addMonths(cutoff, -2));
  const labels = labelsOf(after);
  const rate = labelsOf(before).reduce((a, b) => a + b, 0) / before.length;
  const floor = logLoss(labels, new Float64Array(after.length).fill(rate));
  let best: { params: HyperParameters; auc: number; loss: number } | undefined;
  for (const features of WIDE_GRID.features) {
    for (const minCategoryCount of WIDE_GRID.minCategoryCount) {
      for (const C of WIDE_GRID.C) {
        const params = { features, minCategoryCount, C };
        const scores = scoreLeads(fitLeads(before, params), after);
        const auc = rocAuc(labels, scores);
        const loss = logLoss(labels, scores);
        if (loss < floor && (!best || auc > best.auc || (auc === best.auc && loss < best.loss))) best = { params, auc, loss };
      }
    }
  }
  if (!best) throw new Error(`no candidate beats the base rate before ${cutoff}`);
  return best.params;
}
const wideRecipe: Recipe = (cutoff) => {
  const train = splitByDate(leads, cutoff).before;
  const model = fitLeads(train, wideSearch(train, cutoff));
  return (test) => scoreLeads(model, test);
};
const pythonRecipe: Recipe = (cutoff) => fitReferencePipeline(splitByDate(leads, cutoff).before).scoreAll;

function score(recipe: Recipe, cutoff: string, from: string, until: string) {
  const test = leadsBetween(leads, from, until);
  const labels = labelsOf(test);
  const scores = recipe(cutoff)(test);
  return { auc: rocAuc(labels, scores), brier: brierScore(labels, scores), loss: logLoss(labels, scores) };
}

function rollingMean(recipe: Recipe) {
  const rows = RO_MONTHS.map((month) => score(recipe, month, month, addMonths(month, 1)));
  const mean = (pick: (r: (typeof rows)[number]) => number) => rows.reduce((s, r) => s + pick(r), 0) / rows.length;
  return { rows, auc: mean((r) => r.auc), brier: mean((r) => r.brier), loss: mean((r) => r.loss) };
}

const procedure = (overrides: Partial<ProcedureSettings>): ProcedureSettings => ({ grid: [0.1, 0.3, 1], windows: 3, recalibrate: 'last-month', rule: 'one-standard-error', ...overrides });

if (sections.has('selection')) {
  console.log(`## Selection recipes (Apr–May: trained before ${CUT}; rolling origin: retrained before each of ${RO_MONTHS.map((m) => m.slice(0, 7)).join(', ')}, scored on that month)\n`);
  console.log('| recipe | Apr–May ROC AUC | Apr–May Brier | RO mean ROC AUC | RO mean Brier | RO mean log loss | RO ROC AUC per month |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  const recipes: [string, Recipe][] = [
    ['former 150-candidate search, one two-month window', wideRecipe],
    ['original Python project’s pipeline', pythonRecipe],
    ['fixed C = 0.1, no shift', timelineRecipe(procedure({ grid: [0.1], recalibrate: 'none' }))],
    ['fixed C = 0.1, intercept shifted to the last month', timelineRecipe(procedure({ grid: [0.1] }))],
    ['best pair-weighted AUC over {0.03, 0.1, 0.3, 1}, shifted', timelineRecipe(procedure({ grid: [0.03, 0.1, 0.3, 1], rule: 'best' }))],
    ['best pair-weighted AUC over {0.1, 0.3, 1}, shifted', timelineRecipe(procedure({ rule: 'best' }))],
    ['one-standard-error rule over {0.03, 0.1, 0.3, 1}, shifted', timelineRecipe(procedure({ grid: [0.03, 0.1, 0.3, 1] }))],
    ['**one-standard-error rule over {0.1, 0.3, 1}, shifted (training’s procedure)**', timelineRecipe(procedure({}))],
    ['the same, `--recalibrate none`', timelineRecipe(procedure({ recalibrate: 'none' }))],
  ];
  for (const [name, recipe] of recipes) {
    const aprMay = score(recipe, CUT, CUT, addMonths(CUT, 2));
    const ro = rollingMean(recipe);
    console.log(`| ${name} | ${f(aprMay.auc, 3)} | ${f(aprMay.brier)} | ${f(ro.auc, 3)} | ${f(ro.brier)} | ${f(ro.loss, 3)} | ${ro.rows.map((r) => f(r.auc, 3)).join(' · ')} |`);
  }
}

if (sections.has('selection')) {
  // What the former train command shipped with the data cut at 2018-04-01 and --holdout-from
  // 2018-02-01: the search validated on December–January, the choice refitted on every lead before April.
  const train = splitByDate(leads, CUT).before;
  const params = wideSearch(splitByDate(leads, '2018-02-01').before, '2018-02-01');
  const model = fitLeads(train, params);
  const test = leadsBetween(leads, CUT, addMonths(CUT, 2));
  const e = evaluate(labelsOf(test), scoreLeads(model, test));
  const picks = RO_MONTHS.map((month) => {
    const p = wideSearch(splitByDate(leads, month).before, month);
    return `${month.slice(0, 7)}: ${p.features.join(' + ')}, min count ${p.minCategoryCount}, C = ${p.C}`;
  });
  console.log(`\nFormer search, its pick at each monthly retrain: ${picks.join('; ')}.`);
  console.log(`\nFormer search, data cut at ${CUT}, validated on December–January: ${params.features.join(' + ')}, min count ${params.minCategoryCount}, C = ${params.C}; Apr–May ROC AUC ${f(e.rocAuc, 3)}, Brier ${f(e.brier)}.`);
}

if (sections.has('cutoffs')) {
  console.log('\n## Cut-offs (the procedure on every lead before the cut-off, scored on the two months after it; fixed C = 0.1 with the same shift for comparison)\n');
  console.log('| cut-off | C chosen (best by AUC) | window AUC per C | next two months: ROC AUC / Brier | fixed C = 0.1: ROC AUC / Brier | AUC difference |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  const timeline = new LeadTimeline(leads, procedure({}));
  const fixed = timelineRecipe(procedure({ grid: [0.1] }));
  for (const cutoff of ['2018-02-01', '2018-03-01', '2018-04-01']) {
    const model = timeline.train(cutoff);
    const test = leadsBetween(leads, cutoff, addMonths(cutoff, 2));
    const labels = labelsOf(test);
    const scores = scoreLeads(model.fitted, test);
    const reference = score(fixed, cutoff, cutoff, addMonths(cutoff, 2));
    const auc = rocAuc(labels, scores);
    const windows = model.selection.candidates.map((c) => `${c.C}: ${f(c.roc_auc)} ± ${f(c.roc_auc_se)}`).join('; ');
    console.log(`| ${cutoff} | ${model.selection.chosen.C} (${model.selection.best_C}) | ${windows} | ${f(auc, 3)} / ${f(brierScore(labels, scores))} | ${f(reference.auc, 3)} / ${f(reference.brier)} | ${f(auc - reference.auc, 3)} |`);
  }
}

if (sections.has('features')) {
  console.log('\n## Feature sets (C = 0.1, every category kept, intercept shifted; Apr–May trained before 2018-04-01; rolling origin as above)\n');
  console.log('| features | Apr–May ROC AUC | Apr–May Brier | RO mean ROC AUC | RO mean Brier | RO mean log loss |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  const shifter = new LeadTimeline(leads, procedure({ grid: [0.1] }));
  for (const features of WIDE_GRID.features) {
    const recipe: Recipe = (cutoff) => {
      const train = splitByDate(leads, cutoff).before;
      const model = shifter.recalibrate(fitLeads(train, { features, minCategoryCount: 1, C: 0.1 }), train, cutoff).fitted;
      return (test) => scoreLeads(model, test);
    };
    const aprMay = score(recipe, CUT, CUT, addMonths(CUT, 2));
    const ro = rollingMean(recipe);
    console.log(`| ${features.join(' + ')} | ${f(aprMay.auc, 3)} | ${f(aprMay.brier)} | ${f(ro.auc, 3)} | ${f(ro.brier)} | ${f(ro.loss, 3)} |`);
  }
}

/** The labels a retrain on `asOf` would have seen: a deal won on or after that day is not known yet. */
function censor(list: readonly LabelledLead[], asOf: string): LabelledLead[] {
  return list.map((lead) => (lead.converted && lead.won_date && isoDay(lead.won_date) >= asOf ? { ...lead, converted: false, won_date: undefined } : lead));
}

if (sections.has('censoring')) {
  console.log('\n## Censoring: the last month before each cut-off, as recorded in the data and as known on the cut-off day\n');
  console.log('| cut-off | last full month | leads | converted (recorded) | won on or after the cut-off | rate recorded | rate known at the cut-off |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const cutoff of [...RO_MONTHS, addMonths(RO_MONTHS.at(-1)!, 1)]) {
    const from = addMonths(cutoff, -1);
    const month = leadsBetween(leads, from, cutoff);
    const converted = month.filter((l) => l.converted).length;
    const late = month.filter((l) => l.converted && isoDay(l.won_date!) >= cutoff).length;
    console.log(`| ${cutoff} | ${from.slice(0, 7)} | ${month.length} | ${converted} | ${late} (${f((100 * late) / converted, 0)} %) | ${f((100 * converted) / month.length, 1)} % | ${f((100 * (converted - late)) / month.length, 1)} % |`);
  }
  const days = leads
    .filter((l) => l.converted && l.won_date)
    .map((l) => (Date.parse(`${isoDay(l.won_date!)}T00:00:00Z`) - Date.parse(`${isoDay(l.first_contact_date)}T00:00:00Z`)) / 86_400_000)
    .sort((a, b) => a - b);
  const latest = leads.reduce((max, l) => (l.won_date && l.won_date > max ? l.won_date : max), '');
  console.log(`\nDays from first contact to won deal: median ${days[Math.floor(days.length / 2)]}, 90th percentile ${days[Math.floor(0.9 * days.length)]}; latest won date ${latest.slice(0, 10)}.`);
  console.log('\n| rolling origin (labels of the training leads) | shift | RO mean ROC AUC | RO mean Brier | RO mean log loss |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const recalibrate of ['last-month', 'none'] as const) {
    for (const censored of [false, true]) {
      const recipe: Recipe = censored ? (cutoff) => timelineRecipe(procedure({ recalibrate }), censor(splitByDate(leads, cutoff).before, cutoff))(cutoff) : timelineRecipe(procedure({ recalibrate }));
      const ro = rollingMean(recipe);
      console.log(`| ${censored ? 'as known on the cut-off day' : 'as recorded in the data (deals won up to 2018-11)'} | ${recalibrate} | ${f(ro.auc, 3)} | ${f(ro.brier)} | ${f(ro.loss, 3)} |`);
    }
  }
}

function referenceFor(cutoff: string): { reference: DriftReference; score: Scorer; train: LabelledLead[] } {
  const model = new LeadTimeline(leads, procedure({})).train(cutoff).fitted;
  const train = splitByDate(leads, cutoff).before;
  const scores = scoreLeads(model, train);
  return { reference: buildDriftReference(model.pipeline, train, scores, tierCutPoints(scores)), score: (test) => scoreLeads(model, test), train };
}

if (sections.has('drift')) {
  const range = (values: number[]) => `${f(Math.min(...values), 3)}–${f(Math.max(...values), 3)}`;
  const psiOf = (reference: DriftReference, sample: readonly Lead[], score: Scorer, topK: number) => {
    const report = driftReport(reference, countLeads(reference, sample, score(sample), topK), { topK });
    return Object.fromEntries(report.features.map((feature) => [feature.feature, feature]));
  };
  const end = addMonths(RO_MONTHS.at(-1)!, 1);
  const shipped = referenceFor(end);
  console.log(`\n## Drift: random samples of the training leads (model trained on all ${shipped.train.length}), 20 samples each, PSI range\n`);
  console.log('| leads | origin | landing_page_id, top 20 + rest | landing_page_id, every page | score deciles | statuses (top 20) |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const n of [100, 500, 1000, 3000]) {
    const values: Record<string, number[]> = { origin: [], landing_page_id: [], all_pages: [], score: [] };
    const statuses = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) {
      const random = seededRandom(seed);
      const pool = [...shipped.train];
      for (let i = 0; i < n; i++) {
        const j = i + Math.floor(random() * (pool.length - i));
        [pool[i], pool[j]] = [pool[j]!, pool[i]!];
      }
      const sample = pool.slice(0, n);
      const binned = psiOf(shipped.reference, sample, shipped.score, 20);
      const every = psiOf(shipped.reference, sample, shipped.score, 100_000);
      values.origin!.push(binned.origin!.psi!);
      values.landing_page_id!.push(binned.landing_page_id!.psi!);
      values.all_pages!.push(every.landing_page_id!.psi!);
      values.score!.push(binned.score!.psi!);
      for (const feature of Object.values(binned)) statuses.add(feature.status);
    }
    console.log(`| ${n} | ${range(values.origin!)} | ${range(values.landing_page_id!)} | ${range(values.all_pages!)} | ${range(values.score!)} | ${[...statuses].join(', ')} |`);
  }
  const early = referenceFor('2018-01-01');
  const aprMay = leadsBetween(leads, '2018-04-01', '2018-06-01');
  const binned = psiOf(early.reference, aprMay, early.score, 20);
  const every = psiOf(early.reference, aprMay, early.score, 100_000);
  console.log(`\n## Drift: the ${aprMay.length} leads of April–May 2018 against a model trained on the ${early.train.length} leads before 2018-01-01\n`);
  console.log('| feature | PSI (top 20 + rest) | Jensen–Shannon distance | status | PSI over every page | moved most (expected → observed) |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const feature of ['origin', 'landing_page_id', 'score']) {
    const d = binned[feature]!;
    const movers = d.top_movers.slice(0, 3).map((m) => `${m.bin.length > 12 ? `${m.bin.slice(0, 8)}…` : m.bin} ${f(100 * m.expected, 1)} → ${f(100 * m.observed, 1)} %`).join('; ');
    console.log(`| ${feature} | ${f(d.psi!, 3)} | ${f(d.js_distance!, 3)} | ${d.status} | ${feature === 'landing_page_id' ? f(every[feature]!.psi!, 2) : '–'} | ${movers} |`);
  }
  const allEmail = aprMay.slice(0, 600).map((lead) => ({ ...lead, origin: 'email' }));
  const oneChannel = psiOf(early.reference, allEmail, early.score, 20).origin!;
  console.log(`\nOne channel only (600 April–May leads relabelled \`email\`): origin PSI ${f(oneChannel.psi!, 2)}, ${oneChannel.status}.`);
}

if (sections.has('solvers')) {
  const { before: train, after: holdout } = splitByDate(leads, CUT);
  const holdoutLabels = labelsOf(holdout);
  console.log(`\n## Solvers (one-hot origin + landing_page_id, every category kept, fit on ${train.length} leads before ${CUT}, no shift)\n`);
  console.log('| solver | objective | fit time | holdout ROC AUC | holdout Brier | holdout log loss |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  const pipeline = new Pipeline({ features: ['origin', 'landing_page_id'], minCategoryCount: 1 }).fit(train);
  const design = (list: typeof train) => ({ rows: list.length, activePerRow: 2, featureCount: pipeline.featureCount, indices: pipeline.transformAll(list) });
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
}

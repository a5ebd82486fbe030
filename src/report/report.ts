// The research report: data analysis and model card as one self-contained HTML page.
import type { TopLevelSpec } from 'vega-lite';
import type { LabelledLead } from '../features/lead.js';
import { isoDay } from '../features/lead.js';
import type { Artifact } from '../model/artifact.js';
import { calibrationTable, gainsCurve } from '../model/metrics.js';
import { tierCutPoints, tierOf, TIERS } from '../model/tiers.js';
import { FEATURES, fitLeads, labelsOf, MIN_CATEGORY_COUNT, scoreLeads, splitByDate } from '../model/training.js';
import { REFERENCE_FIGURES } from './references.js';
import { daysToClose, missingValues, monthOf, originOf, precisionRecallCurve, ratesBy, rocCurve } from './analysis.js';
import { PALETTE, renderSvg } from './charts.js';

export interface ReportInput {
  leads: readonly LabelledLead[];
  rejectedRows: number;
  artifact: Artifact;
  generatedAt?: Date;
}

const integer = (n: number) => Math.round(n).toLocaleString('en-US');
const percent = (x: number, digits = 1) => `${(100 * x).toFixed(digits)} %`;
const fixed = (x: number, digits = 3) => x.toFixed(digits);
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const shortId = (id: string) => (id.length > 10 ? `${id.slice(0, 8)}…` : id);

function table(headers: string[], rows: (string | number)[][], numericFrom = 1): string {
  const cell = (value: string | number, i: number, tag: string) => `<${tag}${i >= numericFrom ? ' class="num"' : ''}>${typeof value === 'number' ? integer(value) : value}</${tag}>`;
  return `<table><thead><tr>${headers.map((h, i) => cell(h, i, 'th')).join('')}</tr></thead><tbody>${rows.map((row) => `<tr>${row.map((v, i) => cell(v, i, 'td')).join('')}</tr>`).join('')}</tbody></table>`;
}

function figure(svg: string, caption: string): string {
  return `<figure>${svg}<figcaption>${caption}</figcaption></figure>`;
}

/**
 * The model that produced the holdout metrics, rebuilt from what the artifact records: fitted
 * before the holdout date with the C chosen then, its intercept shifted as it was.
 */
export function holdoutEvaluation(leads: readonly LabelledLead[], artifact: Artifact) {
  const { before, after } = splitByDate(leads, artifact.metrics.holdout_from);
  const { C, recalibration } = artifact.metrics.holdout_model;
  const fitted = fitLeads(before, { features: [...FEATURES], minCategoryCount: MIN_CATEGORY_COUNT, C });
  const model = { ...fitted, model: { intercept: fitted.fit.intercept + recalibration.shift, weights: fitted.fit.weights } };
  return {
    labels: labelsOf(after),
    scores: scoreLeads(model, after),
    // Tiers for the holdout table come from the evaluation model's own training scores, as the shipped model's do.
    cuts: tierCutPoints(scoreLeads(model, before)),
  };
}

export async function buildReport(input: ReportInput): Promise<string> {
  return (await buildReportWithCharts(input)).html;
}

/** The page and each chart on its own, named, so a chart can also be shown elsewhere (the README). */
export async function buildReportWithCharts(input: ReportInput): Promise<{ html: string; charts: Record<string, string> }> {
  const { leads, artifact } = input;
  const converted = leads.filter((lead) => lead.converted).length;
  const baseRate = converted / leads.length;
  const days = leads.map((lead) => isoDay(lead.first_contact_date)).sort();

  // Data analysis
  const months = ratesBy(leads, monthOf).sort((a, b) => a.group.localeCompare(b.group));
  const origins = ratesBy(leads, originOf).sort((a, b) => b.leads - a.leads);
  const pages = ratesBy(leads, (lead) => lead.landing_page_id).sort((a, b) => b.leads - a.leads);
  const rarePages = pages.filter((page) => page.leads < 5).length;
  const allCloseDays = daysToClose(leads).sort((a, b) => a - b);
  // A won date before the first contact is a data error; it is named, not charted.
  const closeDays = allCloseDays.filter((d) => d >= 0);
  const closedBeforeContact = allCloseDays.length - closeDays.length;
  const medianClose = closeDays.length ? closeDays[Math.floor(closeDays.length / 2)]! : Number.NaN;

  const monthChart = await renderSvg({
    width: 620,
    height: 240,
    data: { values: months.map((m) => ({ month: m.group, leads: m.leads, rate: m.rate })) },
    encoding: { x: { field: 'month', type: 'ordinal', title: 'Month of first contact', axis: { labelAngle: -40 } } },
    layer: [
      { mark: { type: 'bar', color: '#c9d6ea' }, encoding: { y: { field: 'leads', type: 'quantitative', title: 'Leads', axis: { titleColor: '#5b7fb0' } } } },
      {
        mark: { type: 'line', color: PALETTE.accent, point: true, strokeWidth: 2.5 },
        encoding: { y: { field: 'rate', type: 'quantitative', title: 'Conversion rate', axis: { format: '.0%', titleColor: PALETTE.accent } } },
      },
    ],
    resolve: { scale: { y: 'independent' } },
  } as TopLevelSpec);

  const originChart = await renderSvg({
    width: 520,
    height: 260,
    data: { values: origins.map((o) => ({ origin: o.group, rate: o.rate, low: o.low, high: o.high, leads: o.leads })) },
    encoding: { y: { field: 'origin', type: 'nominal', sort: '-x', title: null } },
    layer: [
      { mark: { type: 'bar', color: PALETTE.primary, opacity: 0.85 }, encoding: { x: { field: 'rate', type: 'quantitative', title: 'Conversion rate (bar) with its 95 % interval (line)', axis: { format: '.0%' } } } },
      { mark: { type: 'rule', color: '#222' }, encoding: { x: { field: 'low', type: 'quantitative' }, x2: { field: 'high' } } },
    ],
  } as TopLevelSpec);

  const busiest = pages.slice(0, 15);
  const pageChart = await renderSvg({
    width: 520,
    height: 300,
    data: { values: busiest.map((p) => ({ page: shortId(p.group), label: `${integer(p.leads)} leads`, rate: p.rate, low: p.low, high: p.high })) },
    encoding: { y: { field: 'page', type: 'nominal', sort: null, title: 'Landing page' } },
    layer: [
      { mark: { type: 'bar', color: PALETTE.primary, opacity: 0.85 }, encoding: { x: { field: 'rate', type: 'quantitative', title: 'Conversion rate with 95 % interval', axis: { format: '.0%' } } } },
      { mark: { type: 'rule', color: '#222' }, encoding: { x: { field: 'low', type: 'quantitative' }, x2: { field: 'high' } } },
      { mark: { type: 'text', align: 'left', dx: 4, fontSize: 10, color: '#444' }, encoding: { x: { field: 'high', type: 'quantitative' }, text: { field: 'label', type: 'nominal' } } },
    ],
  } as TopLevelSpec);

  const tailChart = await renderSvg({
    width: 520,
    height: 220,
    data: { values: pages.map((p) => ({ leads: p.leads })) },
    transform: [{ calculate: "datum.leads < 5 ? '1–4' : datum.leads < 10 ? '5–9' : datum.leads < 25 ? '10–24' : datum.leads < 100 ? '25–99' : datum.leads < 500 ? '100–499' : '500 or more'", as: 'band' }],
    mark: { type: 'bar', color: PALETTE.primary },
    encoding: {
      x: { field: 'band', type: 'ordinal', sort: ['1–4', '5–9', '10–24', '25–99', '100–499', '500 or more'], title: 'Leads per landing page', axis: { labelAngle: 0 } },
      y: { aggregate: 'count', type: 'quantitative', title: 'Landing pages' },
    },
  } as TopLevelSpec);

  const closeChart = await renderSvg({
    width: 520,
    height: 220,
    data: { values: closeDays.map((d) => ({ days: d })) },
    mark: { type: 'bar', color: PALETTE.good },
    encoding: {
      x: { field: 'days', type: 'quantitative', bin: { step: 15, extent: [0, Math.max(15, Math.ceil((closeDays.at(-1) ?? 0) / 15) * 15)] }, title: 'Days from first contact to closed deal (15-day bins)' },
      y: { aggregate: 'count', type: 'quantitative', title: 'Closed deals' },
    },
  } as TopLevelSpec);

  // Model card
  const evaluation = holdoutEvaluation(leads, artifact);
  const h = artifact.metrics.holdout;
  const roc = rocCurve(evaluation.labels, evaluation.scores);
  const pr = precisionRecallCurve(evaluation.labels, evaluation.scores);
  const holdoutRate = h.converted / h.leads;
  const diagonal = { mark: { type: 'line', color: PALETTE.muted, strokeDash: [4, 4] }, data: { values: [{ x: 0, y: 0 }, { x: 1, y: 1 }] }, encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } } };

  const rocChart = await renderSvg({
    width: 280,
    height: 260,
    layer: [
      diagonal,
      { data: { values: roc }, mark: { type: 'line', color: PALETTE.primary, strokeWidth: 2 }, encoding: { x: { field: 'fpr', type: 'quantitative', title: 'False-positive rate' }, y: { field: 'tpr', type: 'quantitative', title: 'True-positive rate' }, order: { field: 'fpr' } } },
    ],
  } as TopLevelSpec);

  const prChart = await renderSvg({
    width: 280,
    height: 260,
    layer: [
      { data: { values: [{ y: holdoutRate }] }, mark: { type: 'rule', color: PALETTE.muted, strokeDash: [4, 4] }, encoding: { y: { field: 'y', type: 'quantitative' } } },
      { data: { values: pr }, mark: { type: 'line', color: PALETTE.primary, strokeWidth: 2 }, encoding: { x: { field: 'recall', type: 'quantitative', title: 'Recall (share of conversions found)' }, y: { field: 'precision', type: 'quantitative', title: 'Precision (share that convert)', scale: { domain: [0, 1] } }, order: { field: 'recall' } } },
    ],
  } as TopLevelSpec);

  const calibration = calibrationTable(evaluation.labels, evaluation.scores).filter((bin) => bin.count > 0);
  const calibrationChart = await renderSvg({
    width: 300,
    height: 260,
    layer: [
      { ...diagonal, data: { values: [{ x: 0, y: 0 }, { x: 0.5, y: 0.5 }] } },
      {
        data: { values: calibration.map((bin) => ({ predicted: bin.meanPredicted, observed: bin.observedRate, leads: bin.count })) },
        mark: { type: 'point', filled: true, color: PALETTE.primary },
        encoding: {
          x: { field: 'predicted', type: 'quantitative', title: 'Mean predicted probability', axis: { format: '.0%' } },
          y: { field: 'observed', type: 'quantitative', title: 'Observed conversion rate', axis: { format: '.0%' } },
          size: { field: 'leads', type: 'quantitative', title: 'Leads in bin', scale: { range: [30, 600] }, legend: { values: [50, 500, 1500] } },
        },
      },
    ],
  } as TopLevelSpec);

  const gains = gainsCurve(evaluation.labels, evaluation.scores);
  const step = Math.max(1, Math.floor(gains.length / 200));
  const gainsPoints = Array.from(gains).flatMap((captured, k) => (k % step === 0 || k === gains.length - 1 ? [{ share: k / (gains.length - 1), captured }] : []));
  const gainsChart = await renderSvg({
    width: 300,
    height: 260,
    layer: [
      diagonal,
      { data: { values: gainsPoints }, mark: { type: 'line', color: PALETTE.primary, strokeWidth: 2 }, encoding: { x: { field: 'share', type: 'quantitative', title: 'Share of leads called, best-scored first', axis: { format: '.0%' } }, y: { field: 'captured', type: 'quantitative', title: 'Share of conversions captured', axis: { format: '.0%' } } } },
    ],
  } as TopLevelSpec);

  const ro = artifact.metrics.rolling_origin;
  const roSeries = [
    ['This procedure', (m: (typeof ro.months)[number]) => m],
    ['Original Python pipeline', (m: (typeof ro.months)[number]) => m.reference_pipeline],
    ['Training base rate', (m: (typeof ro.months)[number]) => m.base_rate],
  ] as const;
  const roValues = ro.months.flatMap((m) => roSeries.map(([model, pick]) => ({ month: m.month, model, auc: pick(m).roc_auc, brier: pick(m).brier })));
  const roPanel = (field: 'auc' | 'brier', title: string, format: string) => ({
    width: 260,
    height: 200,
    mark: { type: 'line', point: true, strokeWidth: 2 },
    encoding: {
      x: { field: 'month', type: 'ordinal', title: 'Month scored (trained on every lead before it)', axis: { labelAngle: 0 } },
      y: { field, type: 'quantitative', title, scale: { zero: false }, axis: { format } },
      color: { field: 'model', type: 'nominal', title: null, scale: { domain: roSeries.map(([model]) => model), range: [PALETTE.primary, PALETTE.accent, PALETTE.muted] }, legend: { orient: 'bottom', direction: 'horizontal', labelLimit: 0 } },
    },
  });
  const rollingChart = await renderSvg({
    data: { values: roValues },
    hconcat: [roPanel('auc', 'ROC AUC (higher is better)', '.2f'), roPanel('brier', 'Brier score (lower is better)', '.3f')],
  } as TopLevelSpec);
  const roRows: (string | number)[][] = [
    ...ro.months.map((m) => [m.month, integer(m.train_leads), integer(m.leads), integer(m.converted), String(m.C), fixed(m.roc_auc), fixed(m.brier, 4), fixed(m.log_loss, 4)]),
    ['<strong>Mean</strong>', '', '', '', '', `<strong>${fixed(ro.mean.roc_auc)}</strong>`, `<strong>${fixed(ro.mean.brier, 4)}</strong>`, `<strong>${fixed(ro.mean.log_loss, 4)}</strong>`],
    ['Original Python project’s pipeline, mean', '', '', '', '', fixed(ro.reference_pipeline_mean.roc_auc), fixed(ro.reference_pipeline_mean.brier, 4), fixed(ro.reference_pipeline_mean.log_loss, 4)],
    ['Training base rate, mean', '', '', '', '', fixed(ro.base_rate_mean.roc_auc), fixed(ro.base_rate_mean.brier, 4), fixed(ro.base_rate_mean.log_loss, 4)],
  ];
  const selection = artifact.selection;
  const recal = artifact.model.recalibration;

  const tierRows = TIERS.map((tier) => {
    let count = 0;
    let wins = 0;
    evaluation.scores.forEach((score, i) => {
      if (tierOf(score, evaluation.cuts) === tier) {
        count++;
        wins += evaluation.labels[i]!;
      }
    });
    return [tier, percent(count / h.leads), integer(count), count ? percent(wins / count) : '–', count ? `${fixed(wins / count / holdoutRate, 2)}×` : '–'];
  });

  const weights = Object.entries(artifact.model.weights).sort(([, a], [, b]) => b - a);
  const describeWeight = ([name, weight]: [string, number]) => {
    const [feature, value] = name.split('=') as [string, string];
    const label = feature === 'landing_page_id' ? `landing page ${shortId(value)}` : `${feature.replace('_', ' ')} “${value}”`;
    return `<li>${escapeHtml(label)}: odds ×${fixed(Math.exp(weight), 2)} (${weight >= 0 ? '+' : ''}${fixed(weight, 2)} log-odds)</li>`;
  };
  const base = artifact.metrics.holdout_base_rate;
  const metricRows: (string | number)[][] = [
    ['This model', fixed(h.rocAuc), fixed(h.brier, 4), fixed(h.logLoss, 4), fixed(h.prAuc)],
    ['Training base rate as a constant (the floor)', fixed(base.rocAuc), fixed(base.brier, 4), fixed(base.logLoss, 4), fixed(base.prAuc)],
    ...(artifact.metrics.holdout_from === REFERENCE_FIGURES.holdoutFrom
      ? [
          ['Original Python project (reference)', fixed(REFERENCE_FIGURES.originalPipeline.rocAuc), fixed(REFERENCE_FIGURES.originalPipeline.brier, 4), fixed(REFERENCE_FIGURES.originalPipeline.logLoss, 4), '–'],
          ['scikit-learn one-hot + L2 logistic regression, C = 0.1 (reference)', fixed(REFERENCE_FIGURES.scikitLearn.rocAuc), fixed(REFERENCE_FIGURES.scikitLearn.brier, 4), fixed(REFERENCE_FIGURES.scikitLearn.logLoss, 4), '–'],
        ]
      : []),
  ];
  const missing = missingValues(leads);
  const dataFiles = [
    ...(artifact.training_data.sources ?? []).map(
      (s) =>
        `<li>${s.kind === 'store' ? 'lead-score store' : 'data files'} <code>${escapeHtml(s.location)}</code>: ${integer(s.leads)} leads with a known outcome, ${integer(s.converted)} converted, ${integer(s.used)} used` +
        (s.shared_with_store ? ` (${integer(s.shared_with_store)} also in the store, whose outcome was used; it changed ${integer(s.outcome_changed_by_store ?? 0)})` : '') +
        `, sha256 <code>${s.sha256.slice(0, 16)}…</code></li>`,
    ),
    ...artifact.training_data.files.map((f) => `<li><code>${escapeHtml(f.file)}</code>: ${integer(f.rows)} rows, sha256 <code>${f.sha256.slice(0, 16)}…</code></li>`),
  ].join('');
  const firstMonth = months[0]!;
  const peakMonth = months.reduce((a, b) => (b.rate > a.rate ? b : a));

  const charts = { 'rolling-origin': rollingChart, 'landing-page-tail': tailChart, monthly: monthChart, origin: originChart, 'busiest-pages': pageChart, 'time-to-close': closeChart, roc: rocChart, 'precision-recall': prChart, calibration: calibrationChart, gains: gainsChart };
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>leadscore — data analysis and model card ${escapeHtml(artifact.model_version)}</title>
<style>
body { font: 15px/1.5 Helvetica, Arial, sans-serif; color: #1d2330; max-width: 980px; margin: 2rem auto; padding: 0 1.2rem; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; } h2 { margin-top: 2.6rem; border-bottom: 2px solid #e6e8ec; padding-bottom: .3rem; } h3 { margin-top: 1.8rem; }
.lede { color: #555; } table { border-collapse: collapse; margin: .8rem 0; font-size: 14px; } th, td { padding: .3rem .7rem; border-bottom: 1px solid #e6e8ec; text-align: left; }
th { background: #f4f6f9; } .num { text-align: right; font-variant-numeric: tabular-nums; } figure { margin: 1rem 0; } figcaption { color: #555; font-size: 13px; max-width: 640px; }
.grid { display: flex; flex-wrap: wrap; gap: 1.5rem; } .note { background: #f4f7fb; border-left: 4px solid ${PALETTE.primary}; padding: .6rem 1rem; margin: 1rem 0; }
code { font-size: 13px; background: #f4f6f9; padding: 0 .25rem; }
</style>
</head>
<body>
<h1>leadscore: which leads become deals</h1>
<p class="lede">Data analysis of the Olist marketing funnel and the model card of lead-conversion model <strong>${escapeHtml(artifact.model_version)}</strong>. Generated ${escapeHtml((input.generatedAt ?? new Date()).toISOString().slice(0, 16).replace('T', ' '))} UTC.</p>

<h2 id="data">1. The data</h2>
<h3 id="overview">Overview</h3>
${table(['Measure', 'Value'], [
    ['Leads (marketing-qualified, MQL)', integer(leads.length)],
    ['Converted: became a closed deal', `${integer(converted)} (${percent(baseRate)})`],
    ['First contact', `${days[0]} to ${days.at(-1)}`],
    ['Rows rejected while loading', integer(input.rejectedRows)],
  ])}
<h3 id="missing">Missing values per column</h3>
${table(['Column', 'Missing', 'Share'], missing.map((m) => [`<code>${m.column}</code>`, integer(m.missing), percent(m.missing / leads.length, 2)]))}
<p>Only <code>origin</code> has gaps; the model gives them a category of their own, “(missing)”, rather than guessing.</p>
<h3 id="cardinality">Cardinality of the categorical columns</h3>
${table(['Column', 'Distinct values', 'Values with fewer than 5 leads'], [
    ['<code>origin</code> (marketing channel)', integer(origins.length), integer(origins.filter((o) => o.leads < 5).length)],
    ['<code>landing_page_id</code>', integer(pages.length), `${integer(rarePages)} (${percent(rarePages / pages.length, 0)} of pages)`],
  ])}
${figure(tailChart, `The long tail of landing pages: ${integer(rarePages)} of ${integer(pages.length)} pages brought fewer than 5 leads. Their conversion rates are mostly noise, which is why the model shrinks every page’s weight towards zero (L2 regularisation).`)}

<h3 id="monthly">Leads and conversion rate per month</h3>
${figure(monthChart, `Bars: leads per month (left axis). Line: share of those leads that became deals (right axis). Conversion rose from ${percent(firstMonth.rate)} in ${firstMonth.group} to ${percent(peakMonth.rate)} in ${peakMonth.group}.`)}
<div class="note"><strong>What it means for the model.</strong> The funnel drifts: a lead from early 2018 converted far more often than one from mid-2017. A model that learns the calendar month would look good on a random split and fail on next month’s leads, so the model is evaluated on a <em>time</em> split (trained before ${escapeHtml(artifact.metrics.holdout_from)}, tested after) and the month is not an input.</div>

<h3 id="origin">Conversion rate by origin</h3>
${figure(originChart, 'Share of leads from each marketing channel that became deals. The black line is the 95 % interval (Wilson): wide lines mean few leads, so the rate is uncertain.')}
${table(['Origin', 'Leads', 'Converted', 'Conversion rate', '95 % interval'], origins.map((o) => [escapeHtml(o.group), integer(o.leads), integer(o.converted), percent(o.rate), `${percent(o.low)} – ${percent(o.high)}`]))}

<h3 id="pages">The 15 busiest landing pages</h3>
${figure(pageChart, 'Conversion rate of the landing pages with the most leads, with 95 % intervals; pages are named by the first 8 characters of their id.')}

<h3 id="time-to-close">Time from first contact to closed deal</h3>
${figure(closeChart, `Days between a converted lead’s first contact and its closed deal (<code>won_date</code>); median ${integer(medianClose)} days.${closedBeforeContact ? ` ${integer(closedBeforeContact)} deal(s) record a won date before the first contact, a data error, and are left out of the chart.` : ''}`)}
<div class="note"><strong>Why only the four MQL columns are inputs.</strong> Everything in the closed-deals file — segment, lead type, behaviour profile, declared revenue, the won date — is known only <em>after</em> a lead converts. Using it would leak the answer into the question; at scoring time a new lead has only its id, first-contact date, landing page and origin.</div>

<h2 id="model">2. Model card</h2>
<h3 id="features">Features and how they are encoded</h3>
${table(['Feature', 'Encoding', 'Categories'], artifact.pipeline.steps.map((step) => [
    `<code>${step.feature}</code>`,
    `one-hot; ${artifact.pipeline.settings.minCategoryCount > 1 ? `categories seen fewer than ${artifact.pipeline.settings.minCategoryCount} times, and` : ''} categories never seen in training map to “(other)”${step.feature === 'origin' ? '; empty or absent is “(missing)”' : ''}`,
    integer(step.categories.length),
  ]), 2)}
<p>L2-regularised logistic regression (C = ${artifact.model.solver.C}, scikit-learn’s convention), fitted by Newton’s method to a gradient of ${artifact.model.solver.gradient_max_norm.toExponential(1)} in ${artifact.model.solver.iterations} iterations. The features are a fixed decision, not a search result; only C is chosen, from {${selection.grid.join(', ')}}, by ROC AUC over the months ${escapeHtml(selection.windows.map((w) => w.from.slice(0, 7)).join(', '))} (each fitted on every earlier lead, each weighted by its converted × unconverted pairs): ${selection.candidates.map((c) => `C = ${c.C}: ${fixed(c.roc_auc, 4)} ± ${fixed(c.roc_auc_se, 4)}`).join('; ')}. The smallest C within one standard error of the best is taken, since differences below the noise of a few months of leads say nothing about next month.</p>
<p>${recal.method === 'last-month' ? `After the fit the intercept was shifted by ${recal.shift >= 0 ? '+' : ''}${fixed(recal.shift, 4)} log-odds so that the mean predicted probability on the ${integer(recal.leads)} leads of ${escapeHtml(recal.month ?? '')}, the last full month of the data, equals their conversion rate (${percent(recal.observed_rate ?? 0)}; it was ${percent(recal.mean_predicted_before ?? 0)}): conversion drifts, and next month resembles the last one more than the year’s average. The ranking is unchanged. ${integer(recal.converted_after_cutoff)} of that month’s ${integer(recal.converted)} conversions were won on or after ${escapeHtml(selection.cutoff)}: a retrain on that day would have seen a lower rate (the README’s “Censoring”).` : 'The intercept was not recalibrated to the last month (trained with <code>--recalibrate none</code>).'}</p>
<h3 id="coefficients">What raises and lowers a lead’s odds</h3>
<div class="grid"><div><strong>Raises the odds most</strong><ul>${weights.slice(0, 5).map(describeWeight).join('')}</ul></div>
<div><strong>Lowers the odds most</strong><ul>${weights.slice(-5).reverse().map(describeWeight).join('')}</ul></div></div>
<p>“Odds ×1.5” means the lead is 1.5 times as likely to convert as not, compared with an otherwise identical lead without that value.</p>

<h3 id="metrics">Holdout metrics</h3>
<p>Model fitted by the same procedure on the ${integer(artifact.metrics.train_leads)} leads before ${escapeHtml(artifact.metrics.holdout_from)} (C = ${artifact.metrics.holdout_model.C} chosen on ${escapeHtml(artifact.metrics.holdout_model.selection.windows.map((w) => w.from.slice(0, 7)).join(', '))}${artifact.metrics.holdout_model.recalibration.month ? `, intercept matched to ${escapeHtml(artifact.metrics.holdout_model.recalibration.month)}` : ''}), tested on the ${integer(h.leads)} after (${percent(holdoutRate)} converted). ROC AUC: chance that a converting lead scores above a non-converting one (0.5 = coin flip). Brier score and log loss: errors of the probabilities (lower is better). PR AUC: average precision.</p>
${table(['Model', 'ROC AUC', 'Brier', 'Log loss', 'PR AUC'], metricRows)}
<p>Calling the best-scored 10 % of holdout leads finds ${percent(h.top10.captured)} of the conversions (lift ${fixed(h.top10.lift, 2)}×); the best 20 % find ${percent(h.top20.captured)} (lift ${fixed(h.top20.lift, 2)}×). Five-fold stratified cross-validation on all leads: ROC AUC ${fixed(artifact.metrics.cross_validation.meanAuc)} ± ${fixed(artifact.metrics.cross_validation.stdAuc)}.</p>
<div class="grid">
${figure(rocChart, 'ROC curve on the holdout; the dashed diagonal is a random ranking.')}
${figure(prChart, `Precision–recall curve on the holdout; the dashed line is the base rate, ${percent(holdoutRate)}.`)}
</div>
<div class="grid">
<div>${figure(calibrationChart, 'Calibration: holdout leads grouped by predicted probability (bins 10 points wide); a point on the dashed line means the probabilities can be taken at face value. Point size: leads in the bin.')}
${table(['Predicted', 'Leads', 'Mean predicted', 'Observed rate'], calibration.map((bin) => [`${percent(bin.lower, 0)} – ${percent(bin.upper, 0)}`, integer(bin.count), percent(bin.meanPredicted!), percent(bin.observedRate!)]))}</div>
${figure(gainsChart, 'Gains: share of all conversions found when calling leads best-scored first, against calling in random order (dashed).')}
</div>
<h3 id="rolling-origin">Rolling origin: a monthly retrain, month by month</h3>
<p>The figure a sales team that retrains every month should trust. For each of the last ${ro.months.length} months of the data, the whole procedure (C chosen on the three months before it, the intercept matched to the month before it) was run on every earlier lead, and the model scored that month’s leads.</p>
${figure(rollingChart, 'ROC AUC and Brier score per month, with the original Python project’s fixed pipeline and the training base rate as a constant, each retrained the same way.')}
${table(['Month', 'Trained on', 'Leads', 'Converted', 'C', 'ROC AUC', 'Brier', 'Log loss'], roRows)}

<h3 id="tiers">Tiers</h3>
<p>Each lead gets a tier from the quartiles of the training leads’ scores: A is the best-scored quarter. On the holdout (tiers from the model fitted before ${escapeHtml(artifact.metrics.holdout_from)}):</p>
${table(['Tier', 'Share of leads', 'Leads', 'Conversion rate', 'Lift over the base rate'], tierRows)}
<p>The shipped model’s cut-points: A from ${percent(artifact.tiers.A, 2)}, B from ${percent(artifact.tiers.B, 2)}, C from ${percent(artifact.tiers.C, 2)}, D below. Scores tie in blocks (one weight per page and origin), so quarters are approximate.</p>

<h3 id="limits">What the model cannot know</h3>
<ul><li>It learned from ${integer(leads.length)} leads over one year; most landing pages have only a handful.</li>
<li>Conversion drifts strongly over time; probabilities reflect the level of the training months and should be re-checked as new months arrive (retrain with <code>npm run train</code>).</li>
<li>It sees only origin and landing page; what the sales team does after first contact, and everything in the closed-deals file, is outside its view.</li></ul>

<h3 id="fingerprint">Version and training data</h3>
${table(['Field', 'Value'], [
    ['Model version', `<code>${escapeHtml(artifact.model_version)}</code>`],
    ['Trained', escapeHtml(artifact.created_at)],
    ['Artifact sha256', `<code>${artifact.sha256}</code>`],
    ['Leads / converted', `${integer(artifact.training_data.leads)} / ${integer(artifact.training_data.converted)}`],
  ], 2)}
<ul>${dataFiles}</ul>
</body>
</html>
`;
  return { html, charts };
}

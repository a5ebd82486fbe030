// The dashboard's charts: Vega-Lite specs whose data the page fills in the browser from the API.
// Only types come from vega-lite here, so the service never loads Vega to serve the page.
import type { TopLevelSpec } from 'vega-lite';
import { CHART_CONFIG, PALETTE } from './theme.js';

/** Tier A is the best quarter of the training scores: darkest, at the bottom of each stack. */
const TIER_COLORS = { domain: ['A', 'B', 'C', 'D'], range: ['#1f5fa8', '#5b8fd0', '#9dbde6', '#d5dde8'] };
const DRIFT_COLORS = { domain: ['stable', 'moderate', 'significant', 'insufficient_data'], range: [PALETTE.good, PALETTE.accent, PALETTE.bad, PALETTE.muted] };
// The service redirects nothing, so 3xx is left out of the legend.
const STATUS_COLORS = { domain: ['2xx', '4xx', '5xx'], range: ['#9dbde6', PALETTE.accent, PALETTE.bad] };

/** Each chart reads one named data set, `rows`, filled by the page; it is as wide as its panel. Its description is the SVG's accessible name. */
const base = { width: 'container', config: CHART_CONFIG, data: { name: 'rows' } } as const;

export const DASHBOARD_CHARTS = {
  /** rows: { day: 'YYYY-MM-DD', tier, leads } */
  tiersPerDay: {
    ...base,
    description: 'Leads scored per day over the last 30 days, stacked by tier',
    height: 200,
    mark: { type: 'bar' },
    encoding: {
      // One band per day, labelled with its own date (a time axis would also label the end of the last day);
      // UTC throughout, so a bucket's day does not move to the day before in a browser west of Greenwich.
      x: { field: 'day', type: 'ordinal', timeUnit: 'utcyearmonthdate', title: null, axis: { format: '%b %d', labelAngle: 0, labelOverlap: true, labelSeparation: 8 } },
      y: { field: 'leads', type: 'quantitative', title: 'Leads scored', axis: { tickMinStep: 1 } },
      color: { field: 'tier', type: 'nominal', title: 'Tier', scale: TIER_COLORS, legend: { orient: 'top', direction: 'horizontal' } },
      order: { field: 'tier', sort: 'descending' },
    },
  },
  /** rows: { source: 'Holdout' | 'Live', predicted, observed, leads } — one per calibration bin with leads */
  calibration: {
    ...base,
    description: 'Observed conversion against predicted probability, live and on the holdout',
    height: 200,
    layer: [
      {
        // The diagonal, up to the largest probability shown: points on it are perfectly calibrated.
        transform: [{ aggregate: [{ op: 'max', field: 'predicted', as: 'p' }, { op: 'max', field: 'observed', as: 'o' }] }, { calculate: 'max(datum.p, datum.o)', as: 'm' }, { calculate: '0', as: 'zero' }],
        mark: { type: 'rule', color: PALETTE.muted, strokeDash: [4, 4] },
        encoding: { x: { field: 'zero', type: 'quantitative' }, y: { field: 'zero', type: 'quantitative' }, x2: { field: 'm' }, y2: { field: 'm' } },
      },
      {
        encoding: {
          x: { field: 'predicted', type: 'quantitative', title: 'Predicted probability (bin mean)', axis: { format: '.0%' } },
          y: { field: 'observed', type: 'quantitative', title: 'Observed conversion', axis: { format: '.0%' } },
          color: { field: 'source', type: 'nominal', title: null, scale: { domain: ['Holdout', 'Live'], range: [PALETTE.muted, PALETTE.primary] }, legend: { orient: 'top', direction: 'horizontal' } },
        },
        layer: [
          { mark: { type: 'line', strokeWidth: 2 }, encoding: { order: { field: 'predicted' } } },
          // A bin's point grows with its leads: a bin of three leads is noise, and looks it.
          { mark: { type: 'circle', opacity: 1 }, encoding: { size: { field: 'leads', type: 'quantitative', scale: { range: [15, 250] }, legend: null } } },
        ],
      },
    ],
  },
  /** rows: { feature, psi, status, label } */
  drift: {
    ...base,
    description: 'Population stability index per feature, against the 0.1 and 0.25 thresholds',
    height: { step: 34 },
    layer: [
      {
        mark: { type: 'bar', height: 18 },
        encoding: {
          y: { field: 'feature', type: 'nominal', title: null, sort: null, axis: { labelFontSize: 12 } },
          x: { field: 'psi', type: 'quantitative', title: 'Population stability index (PSI) against training', scale: { domainMin: 0, nice: true }, axis: { tickCount: 6 } },
          color: { field: 'status', type: 'nominal', title: null, scale: DRIFT_COLORS, legend: null },
        },
      },
      { mark: { type: 'text', align: 'left', dx: 4, fontSize: 11 }, encoding: { y: { field: 'feature', type: 'nominal', sort: null }, x: { field: 'psi', type: 'quantitative' }, text: { field: 'label' } } },
      // The thresholds between stable, moderate and significant, drawn once across the whole chart.
      { data: { values: [{}] }, mark: { type: 'rule', color: PALETTE.accent, strokeDash: [3, 3] }, encoding: { x: { datum: 0.1, type: 'quantitative' } } },
      { data: { values: [{}] }, mark: { type: 'rule', color: PALETTE.bad, strokeDash: [3, 3] }, encoding: { x: { datum: 0.25, type: 'quantitative' } } },
    ],
  },
  /** rows: { route: 'POST /predict', status: '2xx' | '3xx' | '4xx' | '5xx', requests } */
  requests: {
    ...base,
    description: 'Requests by route and status class',
    height: { step: 24 },
    mark: { type: 'bar', height: 16 },
    encoding: {
      y: { field: 'route', type: 'nominal', title: null, sort: { op: 'sum', field: 'requests', order: 'descending' }, axis: { labelLimit: 220 } },
      x: { field: 'requests', type: 'quantitative', title: 'Requests', axis: { tickMinStep: 1 } },
      color: { field: 'status', type: 'nominal', title: 'Status', scale: STATUS_COLORS, legend: { orient: 'top', direction: 'horizontal' } },
      order: { field: 'status', sort: 'ascending' },
    },
  },
} satisfies Record<string, TopLevelSpec>;

export type DashboardChart = keyof typeof DASHBOARD_CHARTS;

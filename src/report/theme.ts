// The charts' look, shared by the report (rendered in Node) and the dashboard (rendered in the browser).
// Kept apart from charts.ts so that reading it does not load Vega into the service.

export const PALETTE = { primary: '#1f5fa8', accent: '#d9822b', muted: '#8a94a6', good: '#2e8540', bad: '#c0392b' };

export const CHART_CONFIG = {
  font: 'Helvetica, Arial, sans-serif',
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', gridColor: '#e6e8ec' },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 14, anchor: 'start', fontWeight: 'bold' },
  view: { stroke: null },
} as const;

// Vega-Lite specs rendered to inline SVG in Node: charts that need nothing fetched to be read.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export const PALETTE = { primary: '#1f5fa8', accent: '#d9822b', muted: '#8a94a6', good: '#2e8540' };

const CONFIG = {
  font: 'Helvetica, Arial, sans-serif',
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', gridColor: '#e6e8ec' },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 14, anchor: 'start', fontWeight: 'bold' },
  view: { stroke: null },
} as const;

/** Renders a Vega-Lite spec to an SVG string; the title goes in the page, not the chart. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Layers that share an axis make Vega-Lite warn about merging their sort orders; the charts set none that conflict.
  const logger = vega.logger(vega.Error);
  const { spec: vegaSpec } = compile({ ...spec, config: { ...CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec, { logger });
  const view = new vega.View(vega.parse(vegaSpec), { renderer: 'none', logger });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

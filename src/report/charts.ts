// Vega-Lite specs rendered to inline SVG in Node: charts that need nothing fetched to be read.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { CHART_CONFIG } from './theme.js';

export { PALETTE } from './theme.js';

/** Renders a Vega-Lite spec to an SVG string; the title goes in the page, not the chart. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Layers that share an axis make Vega-Lite warn about merging their sort orders; the charts set none that conflict.
  const logger = vega.logger(vega.Error);
  const { spec: vegaSpec } = compile({ ...spec, config: { ...CHART_CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec, { logger });
  const view = new vega.View(vega.parse(vegaSpec), { renderer: 'none', logger });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

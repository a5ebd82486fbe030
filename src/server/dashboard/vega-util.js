// @ts-check
// vega-util, as the page's import map gives it to vega-interpreter: the functions the interpreter
// imports, taken from the Vega build the page has already loaded (Vega re-exports all of vega-util),
// so the page need not load vega-util's sixty modules a second time.
const vega = /** @type {{ vega: typeof import('vega') }} */ (/** @type {unknown} */ (globalThis)).vega;

export const { ascending, isString, DisallowedObjectProperties } = vega;

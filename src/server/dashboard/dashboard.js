// @ts-check
// The dashboard page's script: reads the service's API with the key typed into the page, draws the
// charts with Vega-Lite (rendered to SVG in the browser), and refreshes every minute.
import { expressionInterpreter } from 'vega-interpreter';

/** @typedef {import('vega-lite').TopLevelSpec} TopLevelSpec */
/** @typedef {import('vega').View} View */

const { vega, vegaLite } = /** @type {{ vega: typeof import('vega'), vegaLite: typeof import('vega-lite') }} */ (/** @type {unknown} */ (globalThis));

const REFRESH_MS = 60_000;
const SUMMARY_DAYS = 30;
const TIERS = /** @type {const} */ (['A', 'B', 'C', 'D']);
/** A model older than this is flagged: Olist's conversion moves by whole points within months. */
const STALE_DAYS = 90;
/**
 * The key lives in sessionStorage: it survives a reload of this tab but not the tab itself, and no
 * other tab or later visit sees it (localStorage would keep it on disk for good). Memory alone
 * would ask for it again on every reload. A script injected into the page could read either, which
 * is what the page's Content-Security-Policy (its own files only) guards against.
 */
const KEY_STORAGE = 'leadscore.apiKey';

const specs = /** @type {Record<string, TopLevelSpec>} */ (JSON.parse(byId('chart-specs').textContent ?? '{}'));
const keysRequired = document.body.dataset.keys === 'required';
let apiKey = sessionStorage.getItem(KEY_STORAGE);
/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer;
/** The previous /metrics scrape, so request rates cover the last minute rather than the process's life. */
/** @type {{ at: number, counts: Map<string, RequestSeries> } | null} */
let previousScrape = null;

// ---------------------------------------------------------------------------------------------
// The API

class ApiError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * GET a path of the service (relative to the page, so a proxy's path prefix is kept), with the key
 * in the Authorization header, never in the URL.
 * @param {string} path
 * @param {'json' | 'text'} [as]
 * @returns {Promise<any>}
 */
async function api(path, as = 'json') {
  /** @type {Record<string, string>} */
  const headers = { accept: as === 'json' ? 'application/json' : 'text/plain' };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  const response = await fetch(path, { headers, cache: 'no-store', credentials: 'omit' });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (typeof body?.message === 'string') message = body.message;
    } catch {
      // not the service's error shape: keep the status line
    }
    throw new ApiError(response.status, message);
  }
  return as === 'json' ? response.json() : response.text();
}

// ---------------------------------------------------------------------------------------------
// The page's building blocks

/** @param {string} id */
function byId(id) {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found;
}

/**
 * An element with text or children; text always goes in as text, never as HTML.
 * @param {string} tag
 * @param {Record<string, string>} [attributes]
 * @param {(Node | string | null | undefined | false)[]} [children]
 */
function h(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) if (child !== null && child !== undefined && child !== false) node.append(child);
  return node;
}

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
/** @param {number | null | undefined} x @param {number} [digits] */
const pct = (x, digits = 1) => (x === null || x === undefined || Number.isNaN(x) ? '—' : `${(100 * x).toFixed(digits)} %`);
/** @param {number | null | undefined} x @param {number} [digits] */
const fixed = (x, digits = 3) => (x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(digits));
/** @param {number | null | undefined} x */
const count = (x) => (x === null || x === undefined ? '—' : integer.format(x));
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const relativeShort = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'short' });

/** "3 days ago", "5 minutes ago": the largest unit that fits. @param {string} iso @param {Intl.RelativeTimeFormat} [format] */
function age(iso, format = relative) {
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  /** @type {[Intl.RelativeTimeFormatUnit, number][]} */
  const units = [['year', 31_536_000], ['month', 2_592_000], ['day', 86_400], ['hour', 3600], ['minute', 60]];
  for (const [unit, size] of units) if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  return format.format(Math.round(seconds), 'second');
}

/** @param {string} iso */
const dateTime = (iso) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** Numbers from either spelling: the artifact's holdout figures are camelCase, the live ones snake_case. @param {any} source @param {string[]} names */
function pick(source, ...names) {
  for (const name of names) if (typeof source?.[name] === 'number') return /** @type {number} */ (source[name]);
  return null;
}

/** @param {string} id */
const panelBody = (id) => /** @type {HTMLElement} */ (byId(id).querySelector('.body'));

/** Replaces a panel's content and marks it loaded. @param {string} id @param {(Node | string | null | false)[]} children */
function fill(id, children) {
  const panel = byId(id);
  panel.setAttribute('aria-busy', 'false');
  panel.dataset.state = 'ready';
  panelBody(id).replaceChildren(...children.filter((child) => child !== null && child !== false));
}

/**
 * What a panel shows when its data cannot be had: a 404 means the server has no such data (the
 * score store is off, or this version lacks the route), which is a state to explain, not a failure.
 * @param {string} id @param {unknown} error @param {string} [what]
 */
function unavailable(id, error, what = 'This panel needs the score store (STORE_URL).') {
  const status = error instanceof ApiError ? error.status : 0;
  const message = error instanceof Error ? error.message : String(error);
  const panel = byId(id);
  panel.setAttribute('aria-busy', 'false');
  if (status === 404) {
    panel.dataset.state = 'unavailable';
    panelBody(id).replaceChildren(h('div', { class: 'unavailable' }, [h('strong', {}, ['Not available (store off)']), `${what} The server said: ${message}`]));
  } else {
    panel.dataset.state = 'failed';
    const title = status === 403 ? 'This key may not read this' : 'Could not load';
    panelBody(id).replaceChildren(h('div', { class: 'unavailable failed' }, [h('strong', {}, [title]), message]));
  }
}

/** @param {[string, string | Node][]} items */
function kpis(items) {
  return h('dl', { class: 'kpis' }, items.map(([label, value]) => h('div', {}, [h('dt', {}, [label]), h('dd', {}, [value])])));
}

/**
 * @param {{ label: string, num?: boolean, wrap?: boolean }[]} columns
 * @param {(string | Node)[][]} rows
 */
function table(columns, rows) {
  /** @param {{ num?: boolean, wrap?: boolean } | undefined} c @returns {Record<string, string>} */
  const cls = (c) => (c?.num ? { class: 'num' } : c?.wrap ? { class: 'wrap' } : {});
  const head = h('tr', {}, columns.map((c) => h('th', cls(c), [c.label])));
  const body = rows.map((row) => h('tr', {}, row.map((cell, i) => (cell instanceof HTMLTableCellElement ? cell : h('td', cls(columns[i]), [cell])))));
  return h('div', { class: 'table-wrap' }, [h('table', {}, [h('thead', {}, [head]), h('tbody', {}, body)])]);
}

/** @param {string} text @param {string} kind */
const badge = (text, kind) => h('span', { class: `badge ${kind}` }, [text]);

// ---------------------------------------------------------------------------------------------
// Charts: each spec is compiled once; every refresh draws it anew into its panel's new content.

/** Vega specs compiled from the Vega-Lite ones, by chart name. @type {Map<string, import('vega').Spec>} */
const compiled = new Map();
/** The view drawn last for each chart, finalized (its listeners and timers released) when the next replaces it. @type {Map<string, View>} */
const views = new Map();

/**
 * Draws chart `name` with `rows` into `container`.
 * @param {HTMLElement} container @param {string} name @param {object[]} rows
 */
async function draw(container, name, rows) {
  let vegaSpec = compiled.get(name);
  if (!vegaSpec) {
    const spec = specs[name];
    if (!spec) throw new Error(`no chart ${name}`);
    // Vega-Lite warns that a chart as wide as its panel but as tall as its rows cannot fit its height; it need not.
    vegaSpec = vegaLite.compile(spec, { logger: vega.logger(vega.Error) }).spec;
    compiled.set(name, vegaSpec);
  }
  views.get(name)?.finalize();
  // ast + the interpreter: Vega evaluates its expressions without new Function, as the page's policy requires.
  const view = new vega.View(vega.parse(vegaSpec, undefined, { ast: true }), { renderer: 'svg', container, hover: false, expr: /** @type {any} */ (expressionInterpreter), logLevel: vega.Warn });
  views.set(name, view);
  await view.data('rows', rows).runAsync();
}

/** @param {string} name */
const chartBox = (name) => h('div', { class: 'chart', 'data-chart': name });

// ---------------------------------------------------------------------------------------------
// Panels

/** @param {any} model */
function showModel(model) {
  const created = String(model.created_at);
  const days = (Date.now() - Date.parse(created)) / 86_400_000;
  const holdout = model.metrics?.holdout;
  const tiers = model.tiers ?? {};
  fill('model', [
    kpis([
      ['Version', String(model.model_version)],
      ['Trained', h('span', { title: dateTime(created) }, [age(created)])],
      ['Holdout ROC AUC', fixed(pick(holdout, 'rocAuc', 'roc_auc'))],
      ['Trained on', `${count(model.training_data?.leads)} leads`],
      ['Tier cut-offs', `A ≥ ${pct(tiers.A)} · B ≥ ${pct(tiers.B)} · C ≥ ${pct(tiers.C)}`],
    ]),
    days > STALE_DAYS && h('p', { class: 'note worse' }, [`Trained over ${STALE_DAYS} days ago: leads drift, so check the drift and live quality below before trusting its tiers.`]),
  ]);
}

/** Leads per day and tier over the last SUMMARY_DAYS UTC days, every day present (zero when none). */
async function loadLeads() {
  const today = new Date();
  const first = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - (SUMMARY_DAYS - 1)));
  const { buckets } = await api(`predictions/summary?since=${first.toISOString()}&interval=day`);
  /** @type {Map<string, any>} */
  const byDay = new Map(buckets.map((/** @type {any} */ b) => [String(b.start).slice(0, 10), b]));
  const rows = [];
  let leads = 0;
  let tierA = 0;
  let converted = 0;
  for (let i = 0; i < SUMMARY_DAYS; i++) {
    const day = new Date(first.getTime() + i * 86_400_000).toISOString().slice(0, 10);
    const bucket = byDay.get(day);
    for (const tier of TIERS) rows.push({ day, tier, leads: bucket?.tiers?.[tier] ?? 0 });
    leads += bucket?.leads ?? 0;
    tierA += bucket?.tiers?.A ?? 0;
    converted += bucket?.converted ?? 0;
  }
  const todays = byDay.get(today.toISOString().slice(0, 10));
  const chart = chartBox('tiersPerDay');
  fill('leads', [
    kpis([
      ['Leads, 30 days', count(leads)],
      ['Today', count(todays?.leads ?? 0)],
      ['Tier A', `${count(tierA)} (${pct(leads ? tierA / leads : null)})`],
      ['Converted so far', `${count(converted)} (${pct(leads ? converted / leads : null)})`],
    ]),
    chart,
  ]);
  await draw(chart, 'tiersPerDay', rows);
}

async function loadTierA() {
  const { predictions } = await api('predictions?tier=A&limit=10');
  if (!predictions.length) {
    fill('tier-a', [h('p', { class: 'placeholder' }, ['No tier-A lead scored yet.'])]);
    return;
  }
  fill('tier-a', [
    table(
      [{ label: 'Scored' }, { label: 'Lead' }, { label: 'Origin' }, { label: 'Landing page' }, { label: 'P(deal)', num: true }, { label: 'Outcome' }],
      predictions.map((/** @type {any} */ p) => [
        h('td', { title: dateTime(p.scored_at) }, [age(p.scored_at, relativeShort)]),
        h('td', { class: 'id', title: p.mql_id }, [p.mql_id]),
        p.origin ?? '(missing)',
        h('td', { class: 'id', title: p.landing_page_id }, [p.landing_page_id]),
        pct(p.probability),
        h('td', {}, [badge(p.outcome ?? 'unknown', String(p.outcome ?? 'unknown'))]),
      ]),
    ),
  ]);
}

/** @param {any} model */
async function loadQuality(model) {
  // The holdout figures come whole from the model's metadata (leads, calibration and all); the live ones from the store.
  const holdout = model.metrics?.holdout ?? {};
  /** @type {any} */
  let live = null;
  /** @type {unknown} */
  let liveError = null;
  try {
    live = await api('model/performance');
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw error;
    liveError = error;
  }
  /** Lower is better for Brier and log loss. @type {[string, string[], boolean, number][]} */
  const metrics = [
    ['ROC AUC', ['roc_auc', 'rocAuc'], true, 3],
    ['PR AUC', ['pr_auc', 'prAuc'], true, 3],
    ['Brier score', ['brier'], false, 4],
    ['Log loss', ['log_loss', 'logLoss'], false, 4],
  ];
  const rows = metrics.map(([label, names, higherIsBetter, digits]) => {
    const l = pick(live, ...names);
    const o = pick(holdout, ...names);
    const better = l !== null && o !== null && (higherIsBetter ? l > o : l < o);
    const cell = h('td', { class: `num${l === null || o === null ? '' : better ? ' better' : ' worse'}` }, [fixed(l, digits)]);
    return [label, cell, fixed(o, digits)];
  });
  const liveLeads = pick(live, 'leads');
  const liveConverted = pick(live, 'converted');
  rows.push(['Leads with an outcome', count(liveLeads), count(pick(holdout, 'leads'))]);
  rows.push(['Converted', liveConverted === null ? '—' : `${count(liveConverted)} (${pct(liveLeads ? liveConverted / liveLeads : null)})`, `${count(pick(holdout, 'converted'))} (${pct(pick(holdout, 'leads') ? (pick(holdout, 'converted') ?? 0) / (pick(holdout, 'leads') ?? 1) : null)})`]);

  const calibration = [];
  for (const [source, bins] of /** @type {[string, any][]} */ ([['Holdout', holdout.calibration], ['Live', live?.calibration]])) {
    for (const bin of Array.isArray(bins) ? bins : []) {
      const predicted = pick(bin, 'meanPredicted', 'mean_predicted');
      const observed = pick(bin, 'observedRate', 'observed_rate');
      if (predicted !== null && observed !== null && (bin.count ?? 1) > 0) calibration.push({ source, predicted, observed, leads: bin.count });
    }
  }
  const tiers = live?.tiers && liveLeads ? TIERS.filter((tier) => live.tiers[tier]?.leads) : [];
  const chart = chartBox('calibration');
  fill('quality', [
    table([{ label: 'Measure' }, { label: 'Live', num: true }, { label: 'Holdout', num: true }], rows),
    liveError
      ? unavailableNote(liveError)
      : liveLeads
        ? h('p', { class: 'note' }, ['Live: the stored leads whose outcome is known; green where better than the holdout, red where worse.'])
        : h('p', { class: 'note' }, [String(live?.message ?? 'No stored lead has a known outcome yet.')]),
    tiers.length > 0 &&
      h('p', { class: 'note' }, [`Live conversion by tier: ${tiers.map((tier) => `${tier} ${pct(live.tiers[tier].conversion_rate)} of ${count(live.tiers[tier].leads)}`).join(' · ')}`]),
    h('p', { class: 'note' }, ['Calibration: the conversion observed against the probability predicted, per bin (a dot grows with its leads); on the dashed line they agree.']),
    chart,
  ]);
  await draw(chart, 'calibration', calibration);
}

/** A short "not available" inside a panel that still shows what it can. @param {unknown} error */
function unavailableNote(error) {
  const status = error instanceof ApiError ? error.status : 0;
  const message = error instanceof Error ? error.message : String(error);
  return h('div', { class: `unavailable${status === 404 ? '' : ' failed'}` }, [h('strong', {}, [status === 404 ? 'Live quality not available (store off)' : 'Live quality could not be loaded']), message]);
}

async function loadDrift() {
  const drift = await api('model/drift');
  const features = /** @type {any[]} */ (drift.features ?? []);
  const window = drift.window ?? {};
  const leads = drift.count ?? drift.leads;
  const over = window.last
    ? `the last ${count(window.last)} leads scored (fewer than ${count(drift.min_count)} came in the window), from ${dateTime(window.since)}`
    : `the leads scored since ${window.since ? dateTime(window.since) : '—'}`;
  /** Score bins are named d1 … d10, the training scores' deciles. @param {string} feature @param {any} move */
  const moveText = (feature, move) => {
    const bin = String(move.bin ?? move.category);
    const name = feature === 'score' && /^d\d+$/.test(bin) ? `decile ${bin.slice(1)}` : short(bin);
    return `${name} ${pct(move.expected, 0)} → ${pct(move.observed, 0)}`;
  };
  const chart = chartBox('drift');
  fill('drift', [
    kpis([
      ['Leads compared', count(leads)],
      ['Status', worstStatus(drift.status, features)],
    ]),
    h('p', { class: 'note' }, [
      `Over ${over}${window.source === 'memory' ? ' (counted by this process: the store is off)' : ''}. `,
      drift.thresholds ? `PSI under ${drift.thresholds.moderate} is stable, over ${drift.thresholds.significant} significant; ` : '',
      drift.min_count ? `below ${count(drift.min_count)} leads a feature is not judged.` : '',
    ]),
    chart,
    table(
      [{ label: 'Feature' }, { label: 'PSI', num: true }, { label: 'JS distance', num: true }, { label: 'Status' }, { label: 'Largest moves (training → now)', wrap: true }],
      features.map((f) => [
        String(f.feature),
        fixed(f.psi),
        fixed(f.js_distance),
        h('td', {}, [badge(statusText(f.status), String(f.status))]),
        h('td', { class: 'wrap' }, (f.top_movers ?? f.top_moves ?? []).slice(0, 3).flatMap((/** @type {any} */ move, /** @type {number} */ i) => [i ? h('br') : null, moveText(f.feature, move)])),
      ]),
    ),
  ]);
  await draw(
    chart,
    'drift',
    features.map((f) => ({ feature: String(f.feature), psi: typeof f.psi === 'number' ? f.psi : 0, status: String(f.status), label: f.status === 'insufficient_data' ? 'too few leads to judge' : fixed(f.psi) })),
  );
}

/** @param {string} status */
const statusText = (status) => (status === 'insufficient_data' ? 'too few leads' : status);

/** @param {string} text */
const short = (text) => (text.length > 14 ? `${text.slice(0, 12)}…` : text);

/** The report's overall status, or the worst of its features'. @param {string | undefined} overall @param {any[]} features */
function worstStatus(overall, features) {
  const order = ['significant', 'moderate', 'stable', 'insufficient_data'];
  const worst = overall ?? order.find((status) => features.some((f) => f.status === status));
  return worst ? badge(statusText(worst), worst) : '—';
}

/**
 * @typedef {{ method: string, route: string, status: string, count: number }} RequestSeries
 * Request counts by method, route pattern and status, from the request-duration histogram's _count series.
 * @param {string} text
 */
function readRequestCounts(text) {
  /** @type {Map<string, RequestSeries>} */
  const counts = new Map();
  let startedAt = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('process_start_time_seconds ')) startedAt = Number(line.split(' ')[1]) * 1000;
    if (!line.startsWith('http_request_duration_seconds_count{')) continue;
    const close = line.lastIndexOf('}');
    /** @type {Record<string, string>} */
    const labels = {};
    for (const m of line.slice(line.indexOf('{') + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1] ?? ''] = (m[2] ?? '').replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    const series = { method: labels.method ?? '', route: labels.route ?? '', status: labels.status_code ?? '', count: Number(line.slice(close + 1).trim()) };
    counts.set(`${series.method} ${series.route} ${series.status}`, series);
  }
  return { counts, startedAt };
}

async function loadRequests() {
  const text = await api('metrics', 'text');
  const now = Date.now();
  const { counts, startedAt } = readRequestCounts(text);
  // Rates over the minute since the last refresh; on the first load, totals since the process started.
  const previous = previousScrape;
  previousScrape = { at: now, counts };
  const since = previous ? previous.at : startedAt;
  /** @type {Map<string, { route: string, status: string, requests: number }>} */
  const rows = new Map();
  let total = 0;
  let clientErrors = 0;
  let serverErrors = 0;
  for (const [key, series] of counts) {
    // The page's own files are not the service's traffic.
    if (series.route.startsWith('/dashboard')) continue;
    const before = previous?.counts.get(key)?.count ?? 0;
    // A counter that went down belongs to a restarted process: all of it is new.
    const requests = series.count >= before ? series.count - before : series.count;
    if (!requests) continue;
    const status = `${series.status.slice(0, 1)}xx`;
    const route = `${series.method} ${series.route}`;
    const row = rows.get(`${route} ${status}`) ?? { route, status, requests: 0 };
    row.requests += requests;
    rows.set(`${route} ${status}`, row);
    total += requests;
    if (status === '4xx') clientErrors += requests;
    if (status === '5xx') serverErrors += requests;
  }
  const minutes = since ? Math.max((now - since) / 60_000, 1 / 60) : null;
  const perMinute = (/** @type {number} */ n) => (minutes ? `${integer.format(n / minutes)}/min` : count(n));
  const windowText = previous ? `over the last ${minutes && minutes >= 1.5 ? `${Math.round(minutes)} minutes` : 'minute'}` : 'since the service started';
  const chart = chartBox('requests');
  fill('requests', [
    kpis([
      ['Requests', h('span', {}, [perMinute(total), h('small', {}, [` (${count(total)})`])])],
      ['Client errors (4xx)', h('span', { class: clientErrors ? 'worse' : '' }, [count(clientErrors), h('small', {}, [` ${pct(total ? clientErrors / total : null)}`])])],
      ['Server errors (5xx)', h('span', { class: serverErrors ? 'worse' : '' }, [count(serverErrors), h('small', {}, [` ${pct(total ? serverErrors / total : null)}`])])],
    ]),
    h('p', { class: 'note' }, [`By route ${windowText}, from /metrics (this page's own files left out).`]),
    chart,
  ]);
  await draw(chart, 'requests', [...rows.values()]);
}

// ---------------------------------------------------------------------------------------------
// The key and the refresh loop

/** @param {string} [message] */
function askForKey(message) {
  clearTimeout(timer);
  byId('panels').hidden = true;
  byId('forget-key').hidden = true;
  byId('refresh').hidden = true;
  const form = byId('key-form');
  form.hidden = false;
  const note = byId('key-message');
  if (message) {
    note.textContent = message;
    note.className = 'error';
  }
  setStatus('Waiting for an API key');
  /** @type {HTMLInputElement} */ (byId('key-input')).focus();
}

/** @param {string} text @param {boolean} [error] */
function setStatus(text, error = false) {
  const status = byId('status');
  status.textContent = text;
  status.className = error ? 'error' : '';
}

/** When the last refresh began, whether it worked or not. */
let lastAttempt = 0;

/** The next refresh, a minute after the last began; a hidden tab does not poll, and catches up when shown again. */
function scheduleRefresh() {
  clearTimeout(timer);
  timer = setTimeout(() => {
    if (!document.hidden) void refresh();
  }, Math.max(0, lastAttempt + REFRESH_MS - Date.now()));
}

let refreshing = false;

/** Each panel loads on its own: one that fails or is unavailable leaves the others be. */
async function refresh() {
  if (refreshing) return;
  refreshing = true;
  try {
    await refreshPanels();
  } finally {
    refreshing = false;
  }
}

async function refreshPanels() {
  clearTimeout(timer);
  if (keysRequired && !apiKey) return askForKey();
  lastAttempt = Date.now();
  setStatus('Refreshing…');
  /** @type {any} */
  let model;
  try {
    model = await api('model');
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      apiKey = null;
      sessionStorage.removeItem(KEY_STORAGE);
      return askForKey(`The service refused the key: ${error.message}`);
    }
    setStatus(`Could not reach the service: ${error instanceof Error ? error.message : String(error)}`, true);
    scheduleRefresh();
    return;
  }
  byId('key-form').hidden = true;
  byId('panels').hidden = false;
  byId('refresh').hidden = false;
  byId('forget-key').hidden = !apiKey;
  showModel(model);
  /** @type {[string, () => Promise<void>, string?][]} */
  const panels = [
    ['leads', loadLeads],
    ['tier-a', loadTierA],
    ['quality', () => loadQuality(model)],
    ['drift', loadDrift, 'Drift needs recent scored leads.'],
    ['requests', loadRequests, 'Request counts come from /metrics.'],
  ];
  const results = await Promise.allSettled(panels.map(async ([id, load, what]) => {
    try {
      await load();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) throw error;
      unavailable(id, error, what);
    }
  }));
  if (results.some((r) => r.status === 'rejected')) return askForKey('The service refused the key. Type it again.');
  setStatus(`Updated ${new Date().toLocaleTimeString()} · refreshes every minute`);
  document.body.dataset.loaded = String(Number(document.body.dataset.loaded ?? 0) + 1);
  scheduleRefresh();
}

byId('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ (byId('key-input'));
  apiKey = input.value.trim();
  input.value = '';
  sessionStorage.setItem(KEY_STORAGE, apiKey);
  byId('key-message').className = '';
  void refresh();
});
byId('forget-key').addEventListener('click', () => {
  apiKey = null;
  sessionStorage.removeItem(KEY_STORAGE);
  askForKey();
});
byId('refresh').addEventListener('click', () => void refresh());
document.addEventListener('visibilitychange', () => {
  if (!document.hidden && document.body.dataset.loaded) scheduleRefresh();
});

void refresh();

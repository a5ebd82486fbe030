// GET /dashboard: one page for sales managers and ops, served with everything it loads. The page
// and its files need no key; its data comes from the API, with a key typed into the page.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DASHBOARD_CHARTS } from '../../report/dashboard.js';
import { HttpError } from '../errors.js';
import { negotiate } from '../http.js';

const resolve = createRequire(import.meta.url).resolve;
/** The page's own script, styles and the vega-util bridge: beside this folder in src/, and copied beside it in dist/ by the build. */
const PAGE_DIR = fileURLToPath(new URL('../dashboard/', import.meta.url));

/**
 * What the page loads, by the name it has in the page's import map or its role. Vega and Vega-Lite
 * are their browser builds (window.vega, window.vegaLite); vega-interpreter evaluates Vega's
 * expressions without `new Function`, so the page's policy needs no 'unsafe-eval'.
 */
const SOURCES = [
  { id: 'vega', file: path.join(path.dirname(resolve('vega')), 'vega.min.js') },
  { id: 'vega-lite', file: path.join(path.dirname(resolve('vega-lite')), 'vega-lite.min.js') },
  { id: 'vega-interpreter', file: resolve('vega-interpreter') },
  { id: 'vega-util', file: path.join(PAGE_DIR, 'vega-util.js') },
  { id: 'dashboard', file: path.join(PAGE_DIR, 'dashboard.js') },
  { id: 'style', file: path.join(PAGE_DIR, 'dashboard.css') },
] as const;
type AssetId = (typeof SOURCES)[number]['id'];

interface Asset {
  body: Buffer;
  gzipped: Buffer;
  type: string;
}

interface Page {
  html: string;
  csp: string;
  /** Asset URLs relative to /dashboard, each named by its content hash so it can be cached for good. */
  urls: Record<AssetId, string>;
  assets: Map<string, Asset>;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
const IMMUTABLE = 'public, max-age=31536000, immutable';
const sha256 = (data: string | Buffer, encoding: 'hex' | 'base64') => createHash('sha256').update(data).digest(encoding);

/** `<` escaped, so no value inside the page's JSON blocks can close the script element holding it. */
const jsonInHtml = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

async function buildPage(keysRequired: boolean): Promise<Page> {
  const assets = new Map<string, Asset>();
  const urls = {} as Record<AssetId, string>;
  await Promise.all(
    SOURCES.map(async ({ id, file }) => {
      const body = await readFile(file);
      const ext = path.extname(file);
      const name = `${id}.${sha256(body, 'hex').slice(0, 12)}${ext}`;
      // Compressed once: Vega's build is 520 kB, 180 kB gzipped.
      assets.set(name, { body, gzipped: await promisify(gzip)(body, { level: 9 }), type: TYPES[ext]! });
      urls[id] = `dashboard/assets/${name}`;
    }),
  );
  // Module specifiers resolve against the import map's base, the page; so do these relative URLs.
  const importMap = jsonInHtml({ imports: { 'vega-interpreter': `./${urls['vega-interpreter']}`, 'vega-util': `./${urls['vega-util']}` } });
  const csp = [
    "default-src 'none'",
    // The import map is the page's only inline script, allowed by its hash.
    `script-src 'self' 'sha256-${sha256(importMap, 'base64')}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html: pageHtml({ urls, importMap, keysRequired }), csp, urls, assets };
}

function pageHtml({ urls, importMap, keysRequired }: { urls: Record<AssetId, string>; importMap: string; keysRequired: boolean }): string {
  const panel = (id: string, title: string, note = '', wide = false) =>
    `<section class="panel${wide ? ' wide' : ''}" id="${id}" aria-busy="true"><h2>${title}${note ? ` <small>${note}</small>` : ''}</h2><div class="body"><p class="placeholder">Loading…</p></div></section>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>leadscore dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${urls.style}">
<script type="importmap">${importMap}</script>
<script defer src="${urls.vega}"></script>
<script defer src="${urls['vega-lite']}"></script>
<script type="module" src="${urls.dashboard}"></script>
<script type="application/json" id="chart-specs">${jsonInHtml(DASHBOARD_CHARTS)}</script>
</head>
<body data-keys="${keysRequired ? 'required' : 'off'}">
<header>
  <h1>leadscore <span>lead conversion dashboard</span></h1>
  <p id="status" role="status">Loading…</p>
  <button type="button" id="refresh" hidden>Refresh now</button>
  <button type="button" id="forget-key" hidden>Forget key</button>
</header>
<form id="key-form" hidden>
  <label for="key-input">API key</label>
  <input id="key-input" name="key" type="password" autocomplete="off" spellcheck="false" required minlength="16">
  <button type="submit">Show the dashboard</button>
  <p id="key-message">This service needs an API key with the <code>read</code> role. It is kept in this tab only, until the tab is closed.</p>
</form>
<noscript><p class="notice">This page needs JavaScript to read the service's data.</p></noscript>
<main id="panels">
${panel('model', 'Model')}
${panel('leads', 'Leads per day by tier', 'last 30 days, UTC', true)}
${panel('tier-a', 'Newest tier-A leads')}
${panel('quality', 'Live quality beside the holdout')}
${panel('drift', 'Drift against the training data')}
${panel('requests', 'Requests and errors')}
</main>
</body>
</html>
`;
}

const dashboard: FastifyPluginAsyncZod<{ keysRequired: boolean }> = async (app, { keysRequired }) => {
  // Checked now, so a build that forgot the page's files stops at start-up; read on the first visit, so the service does not pay for them until then.
  const missing = SOURCES.filter(({ file }) => !existsSync(file)).map(({ file }) => file);
  if (missing.length) throw new Error(`the dashboard's files are missing: ${missing.join(', ')}`);
  let page: Promise<Page> | null = null;
  const loadPage = () => {
    page ??= buildPage(keysRequired).catch((error: unknown) => {
      page = null;
      throw error;
    });
    return page;
  };

  app.get('/dashboard', {
    // A page, not part of the API: left out of the OpenAPI document.
    schema: { hide: true },
    handler: async (_request, reply) => {
      const { html, csp } = await loadPage();
      // Revalidated on every visit, so a new release's asset names are picked up at once.
      return reply.type('text/html; charset=utf-8').header('content-security-policy', csp).header('cache-control', 'no-cache').send(html);
    },
  });

  app.get('/dashboard/assets/:name', {
    schema: { hide: true, params: z.object({ name: z.string() }) },
    handler: async (request, reply) => {
      const asset = (await loadPage()).assets.get(request.params.name);
      if (!asset) throw new HttpError(404, `no dashboard file ${JSON.stringify(request.params.name)}; reload /dashboard`);
      reply.type(asset.type).header('cache-control', IMMUTABLE).header('vary', 'accept-encoding');
      if (negotiate(request).encoding(['gzip', 'identity']) === 'gzip') return reply.header('content-encoding', 'gzip').send(asset.gzipped);
      return reply.send(asset.body);
    },
  });
};

export default dashboard;

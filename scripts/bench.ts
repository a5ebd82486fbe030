// npm run bench -- [--rounds 5] [--seconds 3] [--connections 8,64] [--side-rounds 7] [--side-rate 1500] [--postgres auto|off|<url>] [--out bench-results.json]
// The compiled service, as production runs it, beside a bare Fastify server, side by side in one
// run: with no store, with SQLite and with PostgreSQL, with and without instrumentation, with a
// challenger; its batches, its /v2 route, its store through the HTTP API, its cold start, a
// scrape after a million leads, and the body limits under attack.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Lead } from '../src/features/lead.js';
import { loadArtifact, saveArtifact, sealArtifact, type Artifact } from '../src/model/artifact.js';
import { Scorer } from '../src/model/scorer.js';
import { projectRoot } from '../src/server/config.js';
import { ServiceMetrics } from '../src/server/metrics.js';
import {
  countLines,
  cpuMs,
  interleave,
  leadPool,
  load,
  median,
  peakRssDuring,
  removeOnExit,
  sideBySide,
  round,
  say,
  send,
  sleep,
  startPostgres,
  startServer,
  stopServer,
  summarise,
  type Load,
  type Server,
  type Summary,
} from './bench/harness.js';
import { oversizedCsv, stalledUploads } from './bench/limits.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '8,64' },
    postgres: { type: 'string', default: 'auto' },
    'cold-starts': { type: 'string', default: '5' },
    'side-rounds': { type: 'string', default: '7' },
    'side-rate': { type: 'string', default: '1500' },
    'scrape-leads': { type: 'string', default: '1000000' },
    out: { type: 'string', default: 'bench-results.json' },
  },
});
const ROUNDS = Number(args.rounds);
const SECONDS = Number(args.seconds);
const CONNECTIONS = args.connections!.split(',').map(Number);
const COLD_STARTS = Number(args['cold-starts']);
const SIDE_ROUNDS = Number(args['side-rounds']);
const SIDE_RATE = Number(args['side-rate']);
const SIDE_SECONDS = 5;
const SCRAPE_LEADS = Number(args['scrape-leads']);
const EXPORT_ROWS = 100_000;
const STORE_BATCH = 10_000;
const REQUEST_TIMEOUT_MS = 5000;
const root = projectRoot();
const benchStarted = performance.now();
const loadAverageBefore = os.loadavg();

const { artifact: shipped } = await loadArtifact(path.join(root, 'artifacts'));
const scorer = new Scorer(shipped);

/** A challenger: the shipped model with its intercept moved, sealed under its own version (same features, same cost to score). */
function challengerOf(artifact: Artifact): Artifact {
  const { sha256: _sha256, ...body } = artifact;
  return sealArtifact({ ...body, model_version: `${body.model_version}-challenger`, created_at: new Date(Date.parse(body.created_at) - 86_400_000).toISOString(), model: { ...body.model, intercept: body.model.intercept - 0.3 } });
}

const work = mkdtempSync(path.join(os.tmpdir(), 'leadscore-bench-'));
removeOnExit(work);
const models = path.join(work, 'models');
mkdirSync(models);
const challenger = challengerOf(shipped);
await saveArtifact(challenger, models);
await saveArtifact(shipped, models); // saved last: latest.json names the shipped model, the champion

say('building the service (npm run build)…');
execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
// As the image's build does: one start that leaves V8's code for the server beside the bundle,
// which every start below then runs with (src/server/launch.ts).
execFileSync(process.execPath, ['dist/server/warm-up.js'], { cwd: root, stdio: 'ignore' });
const MAIN = ['dist/server/main.js'];

const pool = leadPool(shipped, 10_000, 1);
const predictBodies = pool.map((lead) => JSON.stringify(lead));
const batchBodies = Array.from({ length: 20 }, (_, i) => JSON.stringify({ leads: pool.slice(i * 450, i * 450 + 1000) }));
// The Open Inference Protocol request for the same 1,000 leads, as MLServer's pandas codec sends a DataFrame (one BYTES column per field).
const v2Bodies = Array.from({ length: 20 }, (_, i) => {
  const leads = pool.slice(i * 450, i * 450 + 1000);
  const column = (name: keyof Lead) => ({ name, datatype: 'BYTES', shape: [leads.length, 1], parameters: { content_type: 'str' }, data: leads.map((lead) => lead[name]) });
  return JSON.stringify({ id: `bench-${i}`, parameters: { content_type: 'pd' }, inputs: (['mql_id', 'first_contact_date', 'landing_page_id', 'origin'] as const).map(column) });
});
const samplePrediction = { mql_id: pool[0]!.mql_id, ...scorer.score(pool[0]!), model_version: scorer.version };

// In-process scoring, explanation included: the ceiling no route can pass.
say('in-process scoring…');
let scored = 0;
let sink = 0;
const scoringStarted = performance.now();
while (performance.now() - scoringStarted < 2000) {
  for (const lead of pool) sink += scorer.score(lead).probability;
  scored += pool.length;
}
const scoringLeadsPerSecond = scored / ((performance.now() - scoringStarted) / 1000);
if (!Number.isFinite(sink)) throw new Error('scores were not finite');

// The instrumentation's own work per request, in-process (what METRICS=false saves, but for the
// hook call): the request-duration observation and the scores' counters, for one lead and for 1,000.
const probe = new ServiceMetrics({ processMetrics: false });
probe.setModel(shipped);
const probeScores = pool.slice(0, 1000).map((lead) => ({ mql_id: lead.mql_id, ...scorer.score(lead) }));
const instrument = (leads: number, times: number) => {
  const labels = { method: 'POST', route: leads === 1 ? '/predict' : '/batch-predict', status_code: 200 };
  const run = () => {
    for (let i = 0; i < times; i++) {
      probe.httpDuration.observe(labels, 0.0005);
      probe.recordScores(scorer.version, leads === 1 ? [probeScores[i % 1000]!] : probeScores);
    }
  };
  run(); // warm
  const started = performance.now();
  run();
  return ((performance.now() - started) * 1000) / times;
};
const instrumentationMicros = { predict: round(instrument(1, 200_000), 2), batch_1000: round(instrument(1000, 300), 1) };

// The instrumentation's whole cost per /predict, everything but the socket: two apps built as the
// process entry builds them (production settings, info logging to /dev/null), one with METRICS on
// and one off, in this process, fed the same requests through Fastify's inject in alternating
// slices of 2,000, each slice's CPU read. The two take turns every few hundred milliseconds on the
// same core, so a slow spell of the machine falls on both alike; the median difference is
// reported with the range over the slices (on this machine single slices still moved ±100 µs).
async function instrumentationAb(slices: number, perSlice: number) {
  const { buildApp, servingModel } = await import('../src/server/app.js');
  const { loadConfig } = await import('../src/server/config.js');
  const pino = (await import('pino')).default;
  const config = loadConfig({ MODEL_PATH: path.join(root, 'artifacts'), STORE_URL: 'none' });
  const logger = pino({ level: 'info', base: { pid: process.pid } }, pino.destination({ dest: '/dev/null', sync: true }));
  const apps = {
    on: await buildApp({ config, model: servingModel(shipped), logger, store: null, metrics: new ServiceMetrics() }),
    off: await buildApp({ config, model: servingModel(shipped), logger, store: null, metrics: null }),
  };
  const cpu: Record<keyof typeof apps, number[]> = { on: [], off: [] };
  let next = 0;
  const slice = async (app: (typeof apps)['on']) => {
    const started = process.cpuUsage();
    for (let i = 0; i < perSlice; i++) {
      const response = await app.inject({ method: 'POST', url: '/predict', headers: { 'content-type': 'application/json' }, payload: predictBodies[next++ % predictBodies.length] });
      if (response.statusCode !== 200) throw new Error(`/predict in-process gave ${response.statusCode}: ${response.body}`);
    }
    const used = process.cpuUsage(started);
    return (used.user + used.system) / perSlice;
  };
  for (let s = 0; s < 4; s++) await Promise.all([slice(apps.on), slice(apps.off)]); // warm
  for (let s = 0; s < slices; s++) {
    const order = s % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
    for (const name of order) cpu[name].push(await slice(apps[name]));
  }
  await Promise.all([apps.on.close(), apps.off.close()]);
  const differences = cpu.on.map((on, i) => on - cpu.off[i]!);
  return { on_micros: round(median(cpu.on), 2), off_micros: round(median(cpu.off), 2), difference_micros: round(median(differences), 2), difference_range: [round(Math.min(...differences), 2), round(Math.max(...differences), 2)], slices, per_slice: perSlice };
}
say('instrumentation through the whole request path in-process (METRICS on and off, alternating)…');
const instrumentationInject = await instrumentationAb(40, 2000);
say(`  ${instrumentationInject.on_micros} vs ${instrumentationInject.off_micros} µs per /predict: +${instrumentationInject.difference_micros} µs (slices ${instrumentationInject.difference_range.join(' to ')})`);

const postgres = await startPostgres(root, args.postgres!);

// Cold start: spawn → first 200 on /health, each configuration in turn. The SQLite one runs as a
// deployment does, STORE_URL unset, in a folder of its own: its first start creates and migrates
// data/leadscore.db, the rest open it.
say(`cold start, ${COLD_STARTS} of each…`);
const coldDir = path.join(work, 'cold');
mkdirSync(coldDir);
const coldEnv: Record<string, Record<string, string>> = { sqlite: {}, none: { STORE_URL: 'none' } };
if (postgres) coldEnv.postgres = { STORE_URL: await postgres.schema('bench_cold') };
const coldStarts: Record<string, number[]> = Object.fromEntries(Object.keys(coldEnv).map((name) => [name, []]));
for (let i = 0; i < COLD_STARTS; i++) {
  for (const [name, env] of Object.entries(coldEnv)) {
    const server = await startServer(`cold-${name}`, root, MAIN, env, name === 'sqlite' ? coldDir : root);
    coldStarts[name]!.push(server.startMs);
    await stopServer(server);
  }
}
say(`  ${Object.entries(coldStarts).map(([name, runs]) => `${name} ${runs.map((ms) => ms.toFixed(0)).join(', ')} ms`).join('; ')}`);

say('starting the servers…');
const service = (name: string, env: Record<string, string>) => startServer(name, root, MAIN, { MODEL_PATH: models, ...env });
const servers: Record<string, Server> = {
  bare: await startServer('bare', root, ['--import', 'tsx', 'scripts/bench/bare-server.ts'], { BARE_PREDICTION: JSON.stringify(samplePrediction) }),
  // The same with the service's protection plugin: its security headers, then load shedding too.
  bare_headers: await startServer('bare_headers', root, ['--import', 'tsx', 'scripts/bench/bare-server.ts'], { BARE_PREDICTION: JSON.stringify(samplePrediction), BARE_PROTECTION: 'headers' }),
  bare_protection: await startServer('bare_protection', root, ['--import', 'tsx', 'scripts/bench/bare-server.ts'], { BARE_PREDICTION: JSON.stringify(samplePrediction), BARE_PROTECTION: 'all' }),
  none: await service('none', { STORE_URL: 'none' }),
  none_no_metrics: await service('none_no_metrics', { STORE_URL: 'none', METRICS: 'false' }),
  sqlite: await service('sqlite', { STORE_URL: `sqlite:${path.join(work, 'load.db')}` }),
  sqlite_challenger: await service('sqlite_challenger', { STORE_URL: `sqlite:${path.join(work, 'challenger.db')}`, CHALLENGER: challenger.model_version }),
};
if (postgres) {
  servers.postgres = await service('postgres', { STORE_URL: await postgres.schema('bench_load') });
  if (postgres.cpuMs) servers.postgres.helperCpuMs = postgres.cpuMs;
}
const withPostgres = <T>(rest: Record<string, T>, pgEntry: () => T): Record<string, T> => (servers.postgres ? { ...rest, postgres: pgEntry() } : rest);

// The store through the API, on stores that start empty: 10 batches of 10,000 distinct leads
// (the same to the service without a store, to tell the store's share), then exports of the
// 100,000 current scores as CSV.
say(`stored batches: ${EXPORT_ROWS / STORE_BATCH} × ${STORE_BATCH.toLocaleString('en')} distinct leads to each store…`);
const storeServers = withPostgres({ none: servers.none!, sqlite: servers.sqlite! }, () => servers.postgres!);
const exportLeads = leadPool(shipped, EXPORT_ROWS, 7);
// Warm, as a serving process is: the batch path and the export, with the pool's leads, before anything is timed.
// Each server compared with one of these below gets the same history, untimed, so that a pair
// differs in one setting only: a heap that has handled 10,000-lead batches, or a store holding
// 100,000 scores, serves /predict differently from a fresh one.
const twins = [servers.none_no_metrics!, servers.sqlite_challenger!];
for (const server of [...Object.values(storeServers), ...twins]) {
  for (let i = 0; i < 3; i++) await send(`${server.url}/batch-predict`, { body: JSON.stringify({ leads: pool }) });
  for (const body of batchBodies.slice(0, 5)) await send(`${server.url}/batch-predict`, { body });
  if (server !== servers.none && server !== servers.none_no_metrics) await countLines(`${server.url}/predictions`, { accept: 'text/csv' });
}
await sleep(10);
const exportSince = new Date().toISOString(); // the export below reads exactly the leads stored from here on
const batchTimes: Record<string, { ms: number[]; cpu: number[]; helperCpu: number[] }> = Object.fromEntries(Object.keys(storeServers).map((name) => [name, { ms: [], cpu: [], helperCpu: [] }]));
for (let b = 0; b < EXPORT_ROWS / STORE_BATCH; b++) {
  const body = JSON.stringify({ leads: exportLeads.slice(b * STORE_BATCH, (b + 1) * STORE_BATCH) });
  for (const [name, server] of Object.entries(storeServers)) {
    const cpuBefore = cpuMs(server.child.pid!);
    const helperBefore = server.helperCpuMs?.();
    const { status, ms } = await send(`${server.url}/batch-predict`, { body });
    if (status !== 200) throw new Error(`${name}: a 10,000-lead batch got ${status}`);
    batchTimes[name]!.ms.push(ms);
    batchTimes[name]!.cpu.push(cpuMs(server.child.pid!) - cpuBefore);
    if (helperBefore !== undefined) batchTimes[name]!.helperCpu.push(server.helperCpuMs!() - helperBefore);
  }
}
{
  const exportLeadsBodies = Array.from({ length: EXPORT_ROWS / STORE_BATCH }, (_, b) => JSON.stringify({ leads: exportLeads.slice(b * STORE_BATCH, (b + 1) * STORE_BATCH) }));
  for (const server of twins) for (const body of exportLeadsBodies) await send(`${server.url}/batch-predict`, { body });
}
const batch10k = Object.fromEntries(
  Object.entries(batchTimes).map(([name, t]) => [
    name,
    { median_ms: round(median(t.ms), 1), range_ms: [round(Math.min(...t.ms)), round(Math.max(...t.ms))], cpu_ms: round(median(t.cpu)), ...(t.helperCpu.length ? { postgres_cpu_ms: round(median(t.helperCpu)) } : {}) },
  ]),
);
say(`  ${Object.entries(batch10k).map(([name, b]) => `${name} ${b.median_ms} ms (CPU ${b.cpu_ms} ms)`).join(', ')}`);

say('exports of the 100,000 stored scores as CSV (GET /predictions, Accept: text/csv)…');
const exportRuns: Record<string, { rowsPerSecond: number; ms: number; cpuMs: number; rssBefore: number; rssPeak: number; rows: number; mb: number }[]> = {};
for (let r = 0; r < 3; r++) {
  for (const name of Object.keys(storeServers).filter((n) => n !== 'none')) {
    const server = servers[name]!;
    const cpuBefore = cpuMs(server.child.pid!);
    const { result, beforeMb, peakMb } = await peakRssDuring(server.child.pid!, () => countLines(`${server.url}/predictions?since=${exportSince}`, { accept: 'text/csv' }));
    if (result.status !== 200 || result.lines - 1 !== EXPORT_ROWS) throw new Error(`${name}: the export gave ${result.status} with ${result.lines - 1} rows, not ${EXPORT_ROWS}`);
    (exportRuns[name] ??= []).push({ rowsPerSecond: (result.lines - 1) / (result.ms / 1000), ms: result.ms, cpuMs: cpuMs(server.child.pid!) - cpuBefore, rssBefore: beforeMb, rssPeak: peakMb, rows: result.lines - 1, mb: result.bytes / 1024 / 1024 });
  }
}
const exports = Object.fromEntries(
  Object.entries(exportRuns).map(([name, runs]) => [
    name,
    {
      rows: runs[0]!.rows,
      csv_mb: round(runs[0]!.mb, 1),
      rows_per_s: round(median(runs.map((e) => e.rowsPerSecond))),
      rows_per_s_runs: runs.map((e) => round(e.rowsPerSecond)),
      rows_per_server_cpu_s: round(median(runs.map((e) => e.rows / (Math.max(10, e.cpuMs) / 1000)))),
      rss_mb_before: round(runs[0]!.rssBefore, 1),
      rss_mb_growth: runs.map((e) => round(e.rssPeak - e.rssBefore, 1)),
    },
  ]),
);
say(`  ${Object.entries(exports).map(([name, e]) => `${name} ${e.rows_per_s} rows/s, RSS growth ${e.rss_mb_growth.join(' / ')} MB`).join('; ')}`);

say(`/predict: ${ROUNDS} rounds of ${SECONDS} s per server, interleaved…`);
const predict: Record<number, Record<string, Summary>> = {};
for (const connections of CONNECTIONS) {
  const scenarios = Object.fromEntries(Object.entries(servers).map(([name, server]) => [name, () => load(server, { path: '/predict', bodies: predictBodies, connections, seconds: SECONDS })]));
  const runs = await interleave(ROUNDS, scenarios, `/predict ×${connections}`);
  predict[connections] = Object.fromEntries(Object.entries(runs).map(([name, loads]) => [name, summarise(loads)]));
}

// The same servers side by side in time: each at the same fixed rate at once, CPU per response
// over one window. The ratios the targets are about, read in the same seconds of this shared machine.
say(`/predict side by side: ${SIDE_ROUNDS} rounds, every server at ${SIDE_RATE} req/s at once, CPU per response over ${SIDE_SECONDS} s…`);
const sideNames = ['bare', 'none', 'none_no_metrics', 'sqlite', 'sqlite_challenger'];
const side = await sideBySide(
  sideNames.map((name) => servers[name]!),
  { path: '/predict', bodies: predictBodies, rate: SIDE_RATE, seconds: SIDE_SECONDS, rounds: SIDE_ROUNDS, root },
  '/predict side by side',
);
/** Per round, a over b (CPU per response of b over a's: above 1, a serves more per CPU second); median, lowest, highest. */
const sideRatio = (a: string, b: string) => {
  const values = side.rounds.map((r) => r[b]! / r[a]!);
  return { median: round(median(values), 3), low: round(Math.min(...values), 3), high: round(Math.max(...values), 3), rounds: values.map((v) => round(v, 3)) };
};
const sideFigures = {
  rate_per_server: SIDE_RATE,
  seconds: SIDE_SECONDS,
  cpu_micros_per_response: Object.fromEntries(sideNames.map((name) => [name, side.rounds.map((r) => round(r[name]!, 1))])),
  none_vs_bare: sideRatio('none', 'bare'),
  sqlite_vs_bare: sideRatio('sqlite', 'bare'),
  metrics_on_vs_off: sideRatio('none', 'none_no_metrics'),
  challenger_vs_not: sideRatio('sqlite_challenger', 'sqlite'),
  errors: side.errors,
};

say(`/batch-predict and /v2 infer, 1,000 leads per request, 8 connections…`);
const batchLoad = (server: Server, urlPath = '/batch-predict', bodies = batchBodies) => () => load(server, { path: urlPath, bodies, connections: 8, seconds: SECONDS });
const V2_PATH = '/v2/models/lead-conversion/infer';
const batchRuns = await interleave(
  ROUNDS,
  withPostgres<() => Promise<Load>>(
    {
      bare: batchLoad(servers.bare!),
      none: batchLoad(servers.none!),
      none_v2: batchLoad(servers.none!, V2_PATH, v2Bodies),
      sqlite: batchLoad(servers.sqlite!),
      sqlite_v2: batchLoad(servers.sqlite!, V2_PATH, v2Bodies),
    },
    () => batchLoad(servers.postgres!),
  ),
  '1,000-lead batches',
);
const batch = Object.fromEntries(Object.entries(batchRuns).map(([name, loads]) => [name, summarise(loads)]));

// A scrape of a service that has scored a million leads or more: the SQLite one, after the load above (topped up if need be).
say(`/metrics after ${SCRAPE_LEADS.toLocaleString('en')} leads…`);
const scrapeServer = servers.sqlite!;
const leadsScored = async () => {
  const text = (await send(`${scrapeServer.url}/metrics`)).text;
  return [...text.matchAll(/^leadscore_predictions_total\{[^}]*\} (\d+)/gm)].reduce((total, m) => total + Number(m[1]), 0);
};
while ((await leadsScored()) < SCRAPE_LEADS) {
  for (let i = 0; i < 10; i++) await send(`${scrapeServer.url}/batch-predict`, { body: JSON.stringify({ leads: pool }) });
}
const scrapeCpuBefore = cpuMs(scrapeServer.child.pid!);
const scrapes: number[] = [];
let scrapeBytes = 0;
for (let i = 0; i < 20; i++) {
  const { status, text, ms } = await send(`${scrapeServer.url}/metrics`);
  if (status !== 200) throw new Error(`/metrics answered ${status}`);
  scrapes.push(ms);
  scrapeBytes = text.length;
}
const scrapeCpuMs = (cpuMs(scrapeServer.child.pid!) - scrapeCpuBefore) / scrapes.length;
const scoredBeforeScrape = await leadsScored();
const summary = await send(`${scrapeServer.url}/predictions/summary?interval=month`);
if (summary.status !== 200) throw new Error(`/predictions/summary answered ${summary.status}: ${summary.text}`);
const storedRows = (JSON.parse(summary.text) as { buckets: { leads: number }[] }).buckets.reduce((total, b) => total + b.leads, 0);
// The drift report reads the store as the minute-by-minute monitoring refresh does; its time says how long that refresh holds the process.
const driftTimes: number[] = [];
const driftStatuses: number[] = [];
for (let i = 0; i < 3; i++) {
  const { status, ms } = await send(`${scrapeServer.url}/model/drift`);
  driftTimes.push(ms);
  driftStatuses.push(status);
  await sleep(1500); // under-pressure samples the event loop each second: let a blocked loop's reading pass
}
// Scrapes while the store is being counted for drift, as the minute-by-minute refresh does.
const drifting = send(`${scrapeServer.url}/model/drift`);
const scrapesDuringDrift: number[] = [];
for (let i = 0; i < 10; i++) scrapesDuringDrift.push((await send(`${scrapeServer.url}/metrics`)).ms);
const driftDuringScrapes = await drifting;
say(`  ${scoredBeforeScrape.toLocaleString('en')} leads scored: scrape median ${median(scrapes).toFixed(1)} ms (max ${Math.max(...scrapes).toFixed(1)}), ${scrapeCpuMs.toFixed(1)} ms CPU; GET /model/drift ${driftTimes.map((t) => t.toFixed(0)).join(', ')} ms`);

for (const server of Object.values(servers)) await stopServer(server);

// The body limits, on a server of their own so its memory figures are its alone.
say(`body limits (REQUEST_TIMEOUT_MS=${REQUEST_TIMEOUT_MS})…`);
const guard = await service('limits', { STORE_URL: `sqlite:${path.join(work, 'limits.db')}`, REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) });
await send(`${guard.url}/batch-predict`, { body: batchBodies[0] }); // warm, as a serving process is
const oversized = await oversizedCsv(guard, 5);
const stalled = await stalledUploads(guard, 40, REQUEST_TIMEOUT_MS);
await stopServer(guard);
postgres?.stop();

const ratio = (a: number, b: number) => round(a / b, 2);
const cost = (with_: number, without: number) => round(1 - with_ / without, 3);
const predictFigures = Object.fromEntries(
  Object.entries(predict).map(([connections, s]) => [
    `connections_${connections}`,
    {
      ...s,
      ratio_rps: Object.fromEntries(Object.keys(s).filter((n) => !n.startsWith('bare')).map((n) => [n, ratio(s[n]!.requestsPerSecond, s.bare!.requestsPerSecond)])),
      ratio_cpu_efficiency: Object.fromEntries(Object.keys(s).filter((n) => !n.startsWith('bare')).map((n) => [n, ratio(s.bare!.cpuMicrosPerRequest, s[n]!.cpuMicrosPerRequest)])),
      metrics_cost: {
        rps: cost(s.none!.requestsPerSecond, s.none_no_metrics!.requestsPerSecond),
        cpu: cost(s.none_no_metrics!.cpuMicrosPerRequest, s.none!.cpuMicrosPerRequest),
        in_process_share: round(instrumentationMicros.predict / s.none!.cpuMicrosPerRequest, 3),
      },
      protection_cost: {
        headers: { rps: cost(s.bare_headers!.requestsPerSecond, s.bare!.requestsPerSecond), cpu_micros: round(s.bare_headers!.cpuMicrosPerRequest - s.bare!.cpuMicrosPerRequest, 1) },
        headers_and_load_shedding: { rps: cost(s.bare_protection!.requestsPerSecond, s.bare!.requestsPerSecond), cpu_micros: round(s.bare_protection!.cpuMicrosPerRequest - s.bare!.cpuMicrosPerRequest, 1) },
      },
      challenger_cost: { rps: cost(s.sqlite_challenger!.requestsPerSecond, s.sqlite!.requestsPerSecond), cpu: cost(s.sqlite!.cpuMicrosPerRequest, s.sqlite_challenger!.cpuMicrosPerRequest) },
    },
  ]),
);
// The instrumentation's share of a served /predict: its in-process difference over the lowest CPU
// per request the served route took in any round (the largest share the difference can be).
const servedNoneCpu = Math.min(...CONNECTIONS.map((c) => predict[c]!.none!.cpuMicrosPerRequest));
const results = {
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memory_gb: Math.round(os.totalmem() / 2 ** 30), node: process.version, load_average_before: loadAverageBefore.map((l) => round(l, 2)), load_average_after: os.loadavg().map((l) => round(l, 2)) },
  settings: { rounds: ROUNDS, seconds_per_run: SECONDS, connections: CONNECTIONS, lead_pool: pool.length, batch_size: 1000, postgres: postgres ? 'PostgreSQL 15, local' : null, minutes: round((performance.now() - benchStarted) / 60_000, 1) },
  scoring_in_process_leads_per_s: Math.round(scoringLeadsPerSecond),
  instrumentation_in_process_micros: instrumentationMicros,
  instrumentation_inject: instrumentationInject,
  instrumentation_cost: { micros_per_request: instrumentationInject.difference_micros, served_cpu_micros: servedNoneCpu, share: round(instrumentationInject.difference_micros / servedNoneCpu, 4) },
  cold_start_ms: Object.fromEntries(Object.entries(coldStarts).map(([name, runs]) => [name, { median: round(median(runs)), runs: runs.map((ms) => round(ms)) }])),
  predict: predictFigures,
  predict_side_by_side: sideFigures,
  batch_1000: {
    ...batch,
    ratio_rps: Object.fromEntries(Object.keys(batch).filter((n) => n !== 'bare').map((n) => [n, ratio(batch[n]!.requestsPerSecond, batch.bare!.requestsPerSecond)])),
    cpu_micros_per_lead: Object.fromEntries(Object.entries(batch).map(([n, s]) => [n, round(s.cpuMicrosPerRequest / 1000, 2)])),
    v2_vs_batch: { none: ratio(batch.none_v2!.requestsPerSecond, batch.none!.requestsPerSecond), sqlite: ratio(batch.sqlite_v2!.requestsPerSecond, batch.sqlite!.requestsPerSecond) },
    v2_vs_batch_cpu: { none: ratio(batch.none!.cpuMicrosPerRequest, batch.none_v2!.cpuMicrosPerRequest), sqlite: ratio(batch.sqlite!.cpuMicrosPerRequest, batch.sqlite_v2!.cpuMicrosPerRequest) },
  },
  batch_10000: batch10k,
  export_100000: exports,
  scrape: { leads_scored: scoredBeforeScrape, current_scores_stored: storedRows, median_ms: round(median(scrapes), 1), max_ms: round(Math.max(...scrapes), 1), cpu_ms: round(scrapeCpuMs, 1), bytes: scrapeBytes, drift_report_ms: driftTimes.map((t) => round(t)), drift_report_status: driftStatuses, during_drift_count_ms: { max: round(Math.max(...scrapesDuringDrift), 1), median: round(median(scrapesDuringDrift), 1), drift_report_ms: round(driftDuringScrapes.ms) } },
  oversized_csv: oversized,
  stalled_uploads: stalled,
};
writeFileSync(path.resolve(root, args.out!), `${JSON.stringify(results, null, 2)}\n`);

// The table: every target beside what this run measured.
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const verdict = (ok: boolean | null) => (ok === null ? '' : ok ? 'met' : '**missed**');
const rows: string[][] = [];
const row = (measure: string, value: string, target: string, ok: boolean | null) => rows.push([measure, value, target, verdict(ok)]);
for (const connections of CONNECTIONS) {
  const p = predictFigures[`connections_${connections}`]!;
  const s = (n: string) => predict[connections]![n]!;
  const side = (n: string) => `${fmt(s(n).requestsPerSecond)} req/s, ${s(n).cpuMicrosPerRequest.toFixed(0)} µs${s(n).helperCpuMicrosPerRequest !== undefined ? ` + ${s(n).helperCpuMicrosPerRequest!.toFixed(0)} µs PostgreSQL` : ''}`;
  const c = connections;
  row(`/predict ×${c}, bare Fastify`, side('bare'), '', null);
  row(`/predict ×${c}, STORE_URL=none vs bare`, `${side('none')}: **${p.ratio_rps.none}×** (CPU ${p.ratio_cpu_efficiency.none}×)`, '≥ 0.9×', p.ratio_rps.none! >= 0.9);
  row(`/predict ×${c}, SQLite vs bare`, `${side('sqlite')}: **${p.ratio_rps.sqlite}×** (CPU ${p.ratio_cpu_efficiency.sqlite}×)`, '≥ 0.75×', p.ratio_rps.sqlite! >= 0.75);
  if (p.ratio_rps.postgres !== undefined) row(`/predict ×${c}, PostgreSQL vs bare`, `${side('postgres')}: **${p.ratio_rps.postgres}×** (service CPU ${p.ratio_cpu_efficiency.postgres}×)`, '(report)', null);
  row(`/predict ×${c}, bare + the service's security headers`, `${side('bare_headers')}: ${(p.protection_cost.headers.rps * 100).toFixed(1)} % fewer req/s, ${p.protection_cost.headers.cpu_micros >= 0 ? '+' : ''}${p.protection_cost.headers.cpu_micros} µs CPU`, '(per plugin)', null);
  row(`/predict ×${c}, bare + security headers + load shedding`, `${side('bare_protection')}: ${(p.protection_cost.headers_and_load_shedding.rps * 100).toFixed(1)} % fewer req/s, ${p.protection_cost.headers_and_load_shedding.cpu_micros >= 0 ? '+' : ''}${p.protection_cost.headers_and_load_shedding.cpu_micros} µs CPU`, '(per plugin)', null);
  row(`/predict ×${c}, instrumentation cost (none, METRICS=true vs false)`, `${fmt(s('none').requestsPerSecond)} vs ${fmt(s('none_no_metrics').requestsPerSecond)} req/s: **${(p.metrics_cost.rps * 100).toFixed(1)} %** (CPU ${(p.metrics_cost.cpu * 100).toFixed(1)} %: ${s('none').cpuMicrosPerRequest.toFixed(0)} vs ${s('none_no_metrics').cpuMicrosPerRequest.toFixed(0)} µs; in-process ${instrumentationMicros.predict} µs = ${(p.metrics_cost.in_process_share * 100).toFixed(1)} % of a request's CPU)`, '≤ 5 %', p.metrics_cost.rps <= 0.05);
  row(`/predict ×${c}, challenger cost (SQLite, CHALLENGER set vs not)`, `${fmt(s('sqlite_challenger').requestsPerSecond)} vs ${fmt(s('sqlite').requestsPerSecond)} req/s: **${(p.challenger_cost.rps * 100).toFixed(1)} %** (CPU ${(p.challenger_cost.cpu * 100).toFixed(1)} %)`, '≤ 30 %', p.challenger_cost.rps <= 0.3);
  const summaries = Object.entries(predict[connections]!);
  row(`/predict ×${c}, errors`, summaries.map(([n, x]) => `${n} ${x.errors}`).join(', '), '0', summaries.every(([, x]) => x.errors === 0));
}
{
  const f = sideFigures;
  const range = (r: { low: number; high: number }) => `${r.low}–${r.high}`;
  const cost = (r: { median: number; low: number; high: number }) => `**${((1 - r.median) * 100).toFixed(1)} %** (rounds ${((1 - r.high) * 100).toFixed(1)} to ${((1 - r.low) * 100).toFixed(1)} %)`;
  const at = `side by side, ${fmt(SIDE_RATE)} req/s each, CPU per response`;
  row(`/predict ${at}: STORE_URL=none vs bare`, `**${f.none_vs_bare.median}×** (rounds ${range(f.none_vs_bare)})`, '≥ 0.9×', f.none_vs_bare.median >= 0.9);
  row(`/predict ${at}: SQLite vs bare`, `**${f.sqlite_vs_bare.median}×** (rounds ${range(f.sqlite_vs_bare)})`, '≥ 0.75×', f.sqlite_vs_bare.median >= 0.75);
  row(`/predict ${at}: instrumentation (none, METRICS=true vs false)`, cost(f.metrics_on_vs_off), '≤ 5 %', 1 - f.metrics_on_vs_off.median <= 0.05);
  row(`/predict ${at}: challenger (SQLite, set vs not)`, cost(f.challenger_vs_not), '≤ 30 %', 1 - f.challenger_vs_not.median <= 0.3);
  row(`/predict ${at}: errors`, String(f.errors), '0', f.errors === 0);
}
const b = results.batch_1000;
const leadsPerS = (n: string) => fmt(batch[n]!.requestsPerSecond * 1000);
const perLead = (n: string) => `${(batch[n]!.cpuMicrosPerRequest / 1000).toFixed(2)} µs${batch[n]!.helperCpuMicrosPerRequest !== undefined ? ` + ${(batch[n]!.helperCpuMicrosPerRequest! / 1000).toFixed(2)} µs PostgreSQL` : ''}/lead`;
row('/batch-predict 1,000 leads, JSON floor (bare)', `${leadsPerS('bare')} leads/s, ${perLead('bare')}`, '', null);
row('/batch-predict 1,000 leads, SQLite vs JSON floor', `${leadsPerS('sqlite')} leads/s, ${perLead('sqlite')}: **${b.ratio_rps.sqlite}×**`, '≥ 0.6×', b.ratio_rps.sqlite! >= 0.6);
if (b.ratio_rps.postgres !== undefined) row('/batch-predict 1,000 leads, PostgreSQL vs JSON floor', `${leadsPerS('postgres')} leads/s, ${perLead('postgres')}: **${b.ratio_rps.postgres}×**`, '(report)', null);
row('/batch-predict 1,000 leads, STORE_URL=none vs JSON floor', `${leadsPerS('none')} leads/s, ${perLead('none')}: **${b.ratio_rps.none}×**`, '(context)', null);
row('/v2 infer vs /batch-predict, 1,000 leads, SQLite', `${leadsPerS('sqlite_v2')} vs ${leadsPerS('sqlite')} leads/s: **${b.v2_vs_batch.sqlite}×** (CPU ${b.v2_vs_batch_cpu.sqlite}×)`, '≥ 0.8×', b.v2_vs_batch.sqlite >= 0.8);
row('/v2 infer vs /batch-predict, 1,000 leads, STORE_URL=none', `${leadsPerS('none_v2')} vs ${leadsPerS('none')} leads/s: **${b.v2_vs_batch.none}×** (CPU ${b.v2_vs_batch_cpu.none}×)`, '≥ 0.8×', b.v2_vs_batch.none >= 0.8);
row('batch errors', Object.entries(batch).map(([n, s]) => `${n} ${s.errors}`).join(', '), '0', Object.values(batch).every((s) => s.errors === 0));
for (const [name, t] of Object.entries(batch10k)) {
  const target = name === 'sqlite' ? '≤ 150 ms' : name === 'postgres' ? '(report)' : '(context)';
  row(`10,000-lead batch, end to end, ${name}`, `**${t.median_ms} ms** (${t.range_ms.join('–')}), server CPU ${t.cpu_ms} ms${'postgres_cpu_ms' in t ? ` + PostgreSQL ${t.postgres_cpu_ms} ms` : ''}`, target, name === 'sqlite' ? t.median_ms <= 150 : null);
}
for (const [name, e] of Object.entries(exports)) {
  row(`CSV export of 100,000 stored scores, ${name}`, `**${fmt(e.rows_per_s)} rows/s** (${e.rows_per_s_runs.map(fmt).join(', ')}; ${fmt(e.rows_per_server_cpu_s)} per server CPU s), RSS ${e.rss_mb_before} MB + ${e.rss_mb_growth.join(' / ')} MB`, name === 'sqlite' ? '≥ 200,000 rows/s, flat' : '(report)', name === 'sqlite' ? e.rows_per_s >= 200_000 && Math.max(...e.rss_mb_growth) < 30 : null);
}
for (const [name, c] of Object.entries(results.cold_start_ms)) {
  row(`cold start, spawn → first 200 on /health, ${name === 'sqlite' ? 'SQLite default file' : name}`, `**${c.median} ms** (${c.runs.join(', ')})`, name === 'sqlite' ? '≤ 600 ms' : name === 'postgres' ? '(report)' : '(context)', name === 'sqlite' ? c.median <= 600 : null);
}
row(`/metrics scrape after ${fmt(scoredBeforeScrape)} leads (SQLite store holding ${fmt(storedRows)} current scores)`, `**${results.scrape.median_ms} ms** (max ${results.scrape.max_ms}), ${results.scrape.cpu_ms} ms CPU, ${fmt(scrapeBytes)} bytes`, '≤ 50 ms', results.scrape.median_ms <= 50);
row('GET /model/drift on that store (the query the minute refresh runs)', `${results.scrape.drift_report_ms.join(', ')} ms (${driftStatuses.join(', ')})`, '(context)', null);
row('/metrics scrape while that drift count runs', `**${results.scrape.during_drift_count_ms.median} ms** median, max ${results.scrape.during_drift_count_ms.max} ms (the count took ${results.scrape.during_drift_count_ms.drift_report_ms} ms)`, '≤ 50 ms', results.scrape.during_drift_count_ms.max <= 50);
row(`${oversized.body_mb} MB CSV of ${fmt(oversized.rows)} tiny rows`, `${[...new Set(oversized.status)].join('/')} in **${oversized.ms_to_answer.median} ms** (${oversized.ms_to_answer.runs.join(', ')}), RSS growth ≤ **${oversized.rss_mb.growth_max} MB**`, '413, ≤ 100 ms, ≤ 30 MB', oversized.status.every((s) => s === 413) && oversized.ms_to_answer.median <= 100 && oversized.rss_mb.growth_max <= 30);
row(
  `${stalled.uploads} uploads stalled at 1 byte/s (REQUEST_TIMEOUT_MS=${REQUEST_TIMEOUT_MS})`,
  `${Object.entries(stalled.answers).map(([a, n]) => `${n}× ${a}`).join(', ')} after ${stalled.cut_off_after_ms.min}–${stalled.cut_off_after_ms.max} ms; /predict meanwhile ${stalled.predict_during.status} in ${stalled.predict_during.ms} ms; RSS ${stalled.rss_mb.before} → ${stalled.rss_mb.during} → ${stalled.rss_mb.after} MB`,
  'all cut off, memory returns',
  (stalled.answers['408'] ?? 0) === stalled.uploads && stalled.cut_off_after_ms.max < REQUEST_TIMEOUT_MS + 2000 && stalled.rss_mb.after - stalled.rss_mb.before < 10,
);
row('scoring in-process (pipeline + model + explanation)', `${fmt(scoringLeadsPerSecond)} leads/s`, '', null);
{
  const inject = instrumentationInject;
  const { served_cpu_micros: served, share } = results.instrumentation_cost;
  row(
    '/predict instrumentation, whole request path in-process (METRICS on vs off through inject, alternating slices)',
    `+${inject.difference_micros} µs (${inject.on_micros} vs ${inject.off_micros} µs; slices ${inject.difference_range.join(' to ')}) = **${(share * 100).toFixed(1)} %** of the ${served} µs a served /predict takes (no store, best round)`,
    '≤ 5 %',
    share <= 0.05,
  );
}
row('instrumentation in-process (duration histogram + score counters)', `${instrumentationMicros.predict} µs per /predict, ${instrumentationMicros.batch_1000} µs per 1,000-lead batch`, '', null);

console.log(
  [
    `\n${results.machine.cpus} × ${results.machine.model}, ${results.machine.memory_gb} GB, Node ${results.machine.node}, load average ${results.machine.load_average_before[0]} → ${results.machine.load_average_after[0]}; best of ${ROUNDS} interleaved ${SECONDS} s runs (the table's throughput and CPU; medians in the JSON); ${results.settings.minutes} min\n`,
    '| measure | this run | target | |',
    '| --- | --- | --- | --- |',
    ...rows.map((cells) => `| ${cells.join(' | ')} |`),
    `\nwritten to ${args.out}`,
  ].join('\n'),
);

// npm run bench: the real server (compiled, info logging) against a bare Fastify route, side by side.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { seededRandom } from '../src/model/metrics.js';
import { loadArtifact, type Artifact } from '../src/model/artifact.js';
import { Scorer } from '../src/model/scorer.js';
import { projectRoot } from '../src/server/config.js';
import type { Lead } from '../src/features/lead.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    out: { type: 'string', default: 'bench-results.json' },
  },
});
const ROUNDS = Number(args.rounds);
const SECONDS = Number(args.seconds);
const root = projectRoot();
const say = (message: string) => process.stderr.write(`${message}\n`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForHealth(port: number, deadlineMs = 20_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`no 200 from :${port}/health within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

interface Server {
  child: ChildProcess;
  port: number;
}

async function start(command: string[], env: Record<string, string> = {}): Promise<Server> {
  const port = await freePort();
  // Logs go to /dev/null through the same synchronous pino destination for both servers.
  const logs = openSync('/dev/null', 'w');
  const child = spawn(process.execPath, command, { cwd: root, env: { ...process.env, PORT: String(port), LOG_LEVEL: 'info', SHUTDOWN_DRAIN_MS: '0', ...env }, stdio: ['ignore', logs, 'inherit'] });
  await waitForHealth(port);
  return { child, port };
}

async function stop(server: Server): Promise<void> {
  const exited = new Promise((resolve) => server.child.on('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

function peakRssMb(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

interface Load {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  /** Server CPU time per request: the cost of the work itself, whatever the load generator next to it takes. */
  cpuMicrosPerRequest: number;
}

/** User + system CPU of a process in milliseconds (from /proc; clock ticks are 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function load(server: Server, urlPath: string, bodies: string[], connections: number): Promise<Load> {
  const { port } = server;
  const cpuBefore = cpuMs(server.child.pid!);
  let next = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}${urlPath}`,
    method: 'POST',
    connections,
    duration: SECONDS,
    headers: { 'content-type': 'application/json' },
    requests: [{ setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length] }) }],
  });
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    cpuMicrosPerRequest: ((cpuMs(server.child.pid!) - cpuBefore) * 1000) / Math.max(1, result.requests.total),
  };
}

/** Runs A and B in alternation and keeps each side's median per figure. */
async function alternate(name: string, a: () => Promise<Load>, b: () => Promise<Load>) {
  const runs: { service: Load[]; bare: Load[] } = { service: [], bare: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    runs.service.push(await a());
    runs.bare.push(await b());
    const [a1, b1] = [runs.service.at(-1)!, runs.bare.at(-1)!];
    say(`  ${name} round ${round}: service ${a1.requestsPerSecond.toFixed(0)} req/s (${a1.cpuMicrosPerRequest.toFixed(0)} µs CPU each), bare ${b1.requestsPerSecond.toFixed(0)} req/s (${b1.cpuMicrosPerRequest.toFixed(0)} µs)`);
  }
  const summarise = (loads: Load[]) => ({
    requestsPerSecond: median(loads.map((l) => l.requestsPerSecond)),
    p50: median(loads.map((l) => l.p50)),
    p99: median(loads.map((l) => l.p99)),
    errors: loads.reduce((total, l) => total + l.errors, 0),
    cpuMicrosPerRequest: median(loads.map((l) => l.cpuMicrosPerRequest)),
  });
  return { service: summarise(runs.service), bare: summarise(runs.bare) };
}

/** Distinct, realistic leads: the model's own categories plus a few it never saw. */
function leadPool(artifact: Artifact, size: number, seed: number): Lead[] {
  const random = seededRandom(seed);
  const categories = (feature: string) => artifact.pipeline.steps.find((s) => s.feature === feature)!.categories.filter((c) => !c.startsWith('('));
  const pages = [...categories('landing_page_id'), 'a-page-the-model-never-saw'];
  const origins = [...categories('origin'), '', 'a_new_channel'];
  const hex = () => Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
  return Array.from({ length: size }, () => ({
    mql_id: hex(),
    first_contact_date: new Date(Date.UTC(2018, 0, 1) + Math.floor(random() * 300) * 86_400_000).toISOString().slice(0, 10),
    landing_page_id: pages[Math.floor(random() * pages.length)]!,
    origin: origins[Math.floor(random() * origins.length)]!,
  }));
}

const { artifact: shipped } = await loadArtifact(path.join(root, 'artifacts'));
const scorer = new Scorer(shipped);

say('building the service (npm run build)…');
execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });

const pool = leadPool(shipped, 10_000, 1);
const predictBodies = pool.map((lead) => JSON.stringify(lead));
const batchBodies = Array.from({ length: 20 }, (_, i) => JSON.stringify({ leads: pool.slice(i * 500, i * 500 + 1000) }));
const samplePrediction = { mql_id: pool[0]!.mql_id, ...scorer.score(pool[0]!), model_version: scorer.version };

// 3. In-process scoring, explanation included.
say('in-process scoring…');
let scored = 0;
let sink = 0;
const scoringStarted = performance.now();
while (performance.now() - scoringStarted < 3000) {
  for (const lead of pool) sink += scorer.score(lead).probability;
  scored += pool.length;
}
const scoringLeadsPerSecond = scored / ((performance.now() - scoringStarted) / 1000);
if (!Number.isFinite(sink)) throw new Error('scores were not finite');

// 4. Cold start: spawn to first 200 on /health.
say('cold start…');
const coldStarts: number[] = [];
for (let i = 0; i < 5; i++) {
  const started = performance.now();
  const server = await start(['dist/src/server/main.js']);
  coldStarts.push(performance.now() - started);
  await stop(server);
}

const service = await start(['dist/src/server/main.js']);
const bare = await start(['--import', 'tsx', 'scripts/bench/bare-server.ts'], { BARE_PREDICTION: JSON.stringify(samplePrediction) });
say(`service :${service.port}, bare :${bare.port}; ${ROUNDS} rounds of ${SECONDS} s each, alternating`);

const predict8 = await alternate('/predict, 8 connections', () => load(service, '/predict', predictBodies, 8), () => load(bare, '/predict', predictBodies, 8));
const predict64 = await alternate('/predict, 64 connections', () => load(service, '/predict', predictBodies, 64), () => load(bare, '/predict', predictBodies, 64));
const batch = await alternate('/batch-predict, 1,000 leads', () => load(service, '/batch-predict', batchBodies, 8), () => load(bare, '/batch-predict', batchBodies, 8));
const peakRss = peakRssMb(service.child.pid!);
// The Open Inference Protocol route against /batch-predict on the same server, the same 1,000
// leads per request, sent as MLServer's pandas codec sends a DataFrame (one BYTES column per field).
const v2Bodies = Array.from({ length: 20 }, (_, i) => {
  const leads = pool.slice(i * 500, i * 500 + 1000);
  const column = (name: keyof Lead) => ({ name, datatype: 'BYTES', shape: [leads.length, 1], parameters: { content_type: 'str' }, data: leads.map((lead) => lead[name]) });
  return JSON.stringify({ id: `bench-${i}`, parameters: { content_type: 'pd' }, inputs: (['mql_id', 'first_contact_date', 'landing_page_id', 'origin'] as const).map(column) });
});
const v2Runs: { v2: Load[]; batch: Load[] } = { v2: [], batch: [] };
for (let round = 1; round <= ROUNDS; round++) {
  v2Runs.v2.push(await load(service, '/v2/models/lead-conversion/infer', v2Bodies, 8));
  v2Runs.batch.push(await load(service, '/batch-predict', batchBodies, 8));
  say(`  /v2 infer vs /batch-predict, 1,000 leads, round ${round}: ${v2Runs.v2.at(-1)!.requestsPerSecond.toFixed(0)} vs ${v2Runs.batch.at(-1)!.requestsPerSecond.toFixed(0)} req/s`);
}
const v2Rps = median(v2Runs.v2.map((l) => l.requestsPerSecond));
const v2BatchRps = median(v2Runs.batch.map((l) => l.requestsPerSecond));
await stop(service);
await stop(bare);

const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const results = {
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memory_gb: Math.round(os.totalmem() / 2 ** 30), node: process.version },
  settings: { rounds: ROUNDS, seconds_per_run: SECONDS, lead_pool: pool.length, batch_size: 1000 },
  predict_8: { ...predict8, ratio_rps: ratio(predict8.service.requestsPerSecond, predict8.bare.requestsPerSecond), ratio_p99: ratio(predict8.service.p99, predict8.bare.p99), ratio_cpu_efficiency: ratio(predict8.bare.cpuMicrosPerRequest, predict8.service.cpuMicrosPerRequest) },
  predict_64: { ...predict64, ratio_rps: ratio(predict64.service.requestsPerSecond, predict64.bare.requestsPerSecond), ratio_p99: ratio(predict64.service.p99, predict64.bare.p99), ratio_cpu_efficiency: ratio(predict64.bare.cpuMicrosPerRequest, predict64.service.cpuMicrosPerRequest) },
  batch_1000: {
    service_leads_per_s: batch.service.requestsPerSecond * 1000,
    json_floor_leads_per_s: batch.bare.requestsPerSecond * 1000,
    ratio: ratio(batch.service.requestsPerSecond, batch.bare.requestsPerSecond),
    cpu_micros_per_lead: { service: batch.service.cpuMicrosPerRequest / 1000, json_floor: batch.bare.cpuMicrosPerRequest / 1000 },
    ratio_cpu_efficiency: ratio(batch.bare.cpuMicrosPerRequest, batch.service.cpuMicrosPerRequest),
    errors: batch.service.errors,
  },
  v2_infer_1000: {
    v2_leads_per_s: v2Rps * 1000,
    batch_leads_per_s: v2BatchRps * 1000,
    ratio: ratio(v2Rps, v2BatchRps),
    cpu_micros_per_lead: { v2: median(v2Runs.v2.map((l) => l.cpuMicrosPerRequest)) / 1000, batch: median(v2Runs.batch.map((l) => l.cpuMicrosPerRequest)) / 1000 },
    errors: v2Runs.v2.reduce((total, l) => total + l.errors, 0),
  },
  scoring_in_process_leads_per_s: Math.round(scoringLeadsPerSecond),
  cold_start_ms: { median: Math.round(median(coldStarts)), runs: coldStarts.map(Math.round) },
  peak_rss_mb_during_batch: Math.round(peakRss),
};
writeFileSync(args.out!, `${JSON.stringify(results, null, 2)}\n`);

const row = (name: string, value: string, target: string) => `| ${name} | ${value} | ${target} |`;
console.log(
  [
    `\n${results.machine.cpus} × ${results.machine.model}, ${results.machine.memory_gb} GB, Node ${results.machine.node}; medians of ${ROUNDS} alternating ${SECONDS} s runs\n`,
    '| measure | service vs bare Fastify | target |',
    '| --- | --- | --- |',
    row('/predict req/s, 8 connections', `${predict8.service.requestsPerSecond.toFixed(0)} vs ${predict8.bare.requestsPerSecond.toFixed(0)} = **${results.predict_8.ratio_rps}×**`, '≥ 0.85×'),
    row('/predict p50 / p99 ms, 8 connections', `${predict8.service.p50} / ${predict8.service.p99} vs ${predict8.bare.p50} / ${predict8.bare.p99} (p99 **${results.predict_8.ratio_p99}×**)`, 'p99 ≤ 1.5×'),
    row('/predict req/s, 64 connections', `${predict64.service.requestsPerSecond.toFixed(0)} vs ${predict64.bare.requestsPerSecond.toFixed(0)} = **${results.predict_64.ratio_rps}×**`, '≥ 0.85×'),
    row('/predict p50 / p99 ms, 64 connections', `${predict64.service.p50} / ${predict64.service.p99} vs ${predict64.bare.p50} / ${predict64.bare.p99} (p99 **${results.predict_64.ratio_p99}×**)`, 'p99 ≤ 1.5×'),
    row('/predict errors (8 + 64 connections)', `${predict8.service.errors + predict64.service.errors}`, '0'),
    row('/predict server CPU per request, 8 / 64 connections', `${predict8.service.cpuMicrosPerRequest.toFixed(0)} / ${predict64.service.cpuMicrosPerRequest.toFixed(0)} µs vs ${predict8.bare.cpuMicrosPerRequest.toFixed(0)} / ${predict64.bare.cpuMicrosPerRequest.toFixed(0)} µs (efficiency **${results.predict_8.ratio_cpu_efficiency}× / ${results.predict_64.ratio_cpu_efficiency}×**)`, '(context)'),
    row('/batch-predict leads/s (1,000 per request)', `${results.batch_1000.service_leads_per_s.toFixed(0)} vs JSON floor ${results.batch_1000.json_floor_leads_per_s.toFixed(0)} = **${results.batch_1000.ratio}×**`, '≥ 0.7×'),
    row('/batch-predict server CPU per lead', `${results.batch_1000.cpu_micros_per_lead.service.toFixed(2)} µs vs ${results.batch_1000.cpu_micros_per_lead.json_floor.toFixed(2)} µs (efficiency **${results.batch_1000.ratio_cpu_efficiency}×**)`, '(context)'),
    row('/v2 infer vs /batch-predict, leads/s (1,000 per request, same server)', `${results.v2_infer_1000.v2_leads_per_s.toFixed(0)} vs ${results.v2_infer_1000.batch_leads_per_s.toFixed(0)} = **${results.v2_infer_1000.ratio}×** (CPU per lead ${results.v2_infer_1000.cpu_micros_per_lead.v2.toFixed(2)} vs ${results.v2_infer_1000.cpu_micros_per_lead.batch.toFixed(2)} µs, ${results.v2_infer_1000.errors} errors)`, '≥ 0.8×'),
    row('scoring in-process, leads/s (with explanation)', results.scoring_in_process_leads_per_s.toLocaleString('en-US'), '≥ 2,000,000'),
    row('cold start, spawn → first 200 on /health', `${results.cold_start_ms.median} ms (runs: ${results.cold_start_ms.runs.join(', ')})`, '≤ 500 ms'),
    row('peak RSS during the batch runs', `${results.peak_rss_mb_during_batch} MB`, '≤ 150 MB'),
    `\nwritten to ${args.out}`,
  ].join('\n'),
);

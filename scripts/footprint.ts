// npm run footprint: the compiled service's memory and CPU at rest and under load, for sizing a pod.
// The figures behind deploy/k8s/deployment.yaml's resources; rerun it when the service changes.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { loadArtifact } from '../src/model/artifact.js';
import { seededRandom } from '../src/model/metrics.js';
import { projectRoot } from '../src/server/config.js';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '8' } } });
const SECONDS = Number(args.seconds);
const CONNECTIONS = Number(args.connections);
const root = projectRoot();
const say = (message: string) => process.stderr.write(`${message}\n`);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resident memory now and its high-water mark, in MB, from /proc (what the kubelet's OOM accounting is close to). */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) / 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** User + system CPU of a process in milliseconds (clock ticks are 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function start(): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  // As the image runs it (production, info logging), but bound to loopback; logs are discarded.
  const child = spawn(process.execPath, ['dist/server/main.js'], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info' },
    stdio: ['ignore', openSync('/dev/null', 'w'), 'inherit'],
  });
  const until = Date.now() + 20_000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
    if (ok) return { child, port };
    if (Date.now() > until) throw new Error('the service did not answer /health within 20 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const { artifact } = await loadArtifact(path.join(root, 'artifacts'));
const random = seededRandom(7);
const categories = (feature: string) => artifact.pipeline.steps.find((s) => s.feature === feature)!.categories.filter((c) => !c.startsWith('('));
const pages = [...categories('landing_page_id'), 'a-page-the-model-never-saw'];
const origins = [...categories('origin'), ''];
const hex = () => Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
const lead = () => ({
  mql_id: hex(),
  first_contact_date: new Date(Date.UTC(2018, 0, 1) + Math.floor(random() * 300) * 86_400_000).toISOString().slice(0, 10),
  landing_page_id: pages[Math.floor(random() * pages.length)]!,
  origin: origins[Math.floor(random() * origins.length)]!,
});
const batches = (size: number, count: number) => Array.from({ length: count }, () => JSON.stringify({ leads: Array.from({ length: size }, lead) }));

say('building the service (npm run build)…');
execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
const server = await start();
const pid = server.child.pid!;
await new Promise((resolve) => setTimeout(resolve, 2000)); // let start-up garbage be collected before reading "idle"
const idle = memory(pid);
say(`idle: RSS ${idle.rss.toFixed(0)} MB`);

interface Phase {
  name: string;
  route: string;
  bodies: string[];
  connections: number;
}
const phases: Phase[] = [
  { name: '/predict, one lead per request', route: '/predict', bodies: Array.from({ length: 2000 }, () => JSON.stringify(lead())), connections: 64 },
  { name: '/batch-predict, 1,000 leads per request', route: '/batch-predict', bodies: batches(1000, 20), connections: CONNECTIONS },
  { name: '/batch-predict, 10,000 leads per request (MAX_BATCH)', route: '/batch-predict', bodies: batches(10_000, 4), connections: CONNECTIONS },
];
const results = [];
for (const phase of phases) {
  let next = 0;
  let highest = 0;
  const sampler = setInterval(() => (highest = Math.max(highest, memory(pid).rss)), 100);
  const cpuBefore = cpuMs(pid);
  const started = performance.now();
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}${phase.route}`,
    method: 'POST',
    connections: phase.connections,
    duration: SECONDS,
    headers: { 'content-type': 'application/json' },
    requests: [{ setupRequest: (request) => ({ ...request, body: phase.bodies[next++ % phase.bodies.length] }) }],
  });
  const cores = (cpuMs(pid) - cpuBefore) / (performance.now() - started);
  clearInterval(sampler);
  const row = { phase: phase.name, connections: phase.connections, requests_per_s: Math.round(result.requests.average), errors: result.errors + result.timeouts + result.non2xx, rss_max_mb: Math.round(highest), cpu_cores: Math.round(cores * 100) / 100 };
  results.push(row);
  say(`${row.phase}: ${row.requests_per_s} req/s at ${row.connections} connections, ${row.errors} errors, RSS up to ${row.rss_max_mb} MB, ${row.cpu_cores} cores`);
}
await new Promise((resolve) => setTimeout(resolve, 3000));
const after = memory(pid);
const exited = new Promise((resolve) => server.child.on('exit', resolve));
server.child.kill('SIGTERM');
await exited;

console.log(
  JSON.stringify(
    {
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
      seconds_per_phase: SECONDS,
      idle_rss_mb: Math.round(idle.rss),
      phases: results,
      rss_3s_after_load_mb: Math.round(after.rss),
      peak_rss_mb: Math.round(after.peak),
    },
    null,
    2,
  ),
);

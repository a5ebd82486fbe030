// What npm run bench measures with: processes started as in production, load from autocannon,
// and each process's CPU time and memory read from /proc, which a busy machine skews far less
// than throughput does.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import type { Lead } from '../../src/features/lead.js';
import type { Artifact } from '../../src/model/artifact.js';
import { seededRandom } from '../../src/model/metrics.js';

export const say = (message: string) => process.stderr.write(`${message}\n`);
export const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
export const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits;
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * How long `work` took, and the longest the event loop went without a turn meanwhile, as a 1 ms
 * interval timer saw it (a block at the very end counted too).
 */
export async function longestBlockDuring(work: () => Promise<unknown>): Promise<{ ms: number; longestBlockMs: number }> {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  const started = performance.now();
  await work();
  const ended = performance.now();
  clearInterval(timer);
  return { ms: ended - started, longestBlockMs: Math.max(longest, ended - last) };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForHealth(port: number, child: ChildProcess, deadlineMs = 30_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server on :${port} exited with ${child.exitCode} before answering /health`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`no 200 from :${port}/health within ${deadlineMs} ms`);
    await sleep(2);
  }
}

export interface Server {
  name: string;
  child: ChildProcess;
  port: number;
  url: string;
  /** Milliseconds from spawn to the first 200 on /health. */
  startMs: number;
  /** CPU of processes that do this server's work elsewhere (its PostgreSQL server), when known. */
  helperCpuMs?: () => number;
}

const running = new Set<ChildProcess>();
// A failed run must not leave servers behind: whatever is still running is killed on the way out.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Spawns `node …command` in `cwd` (the project by default) and waits for its first 200 on /health. */
export async function startServer(name: string, root: string, command: string[], env: Record<string, string> = {}, cwd = root): Promise<Server> {
  const port = await freePort();
  // Logs go to /dev/null through the same synchronous pino destination for every server.
  const logs = openSync('/dev/null', 'w');
  const started = performance.now();
  const child = spawn(process.execPath, command.map((part) => (part.endsWith('.js') || part.endsWith('.ts') ? path.resolve(root, part) : part)), {
    cwd,
    env: { ...process.env, PORT: String(port), LOG_LEVEL: 'info', SHUTDOWN_DRAIN_MS: '0', ...env },
    stdio: ['ignore', logs, 'inherit'],
  });
  running.add(child);
  child.on('exit', () => running.delete(child));
  await waitForHealth(port, child);
  return { name, child, port, url: `http://127.0.0.1:${port}`, startMs: performance.now() - started };
}

export async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.on('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

/** User + system CPU of a process in milliseconds, from /proc (clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** A process and its children's CPU, the children that have exited included (PostgreSQL's backends). */
export function treeCpuMs(pid: number): number {
  const stat = (p: number) => readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const own = stat(pid);
  let total = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = stat(Number(entry));
      if (Number(fields[1]) === pid) total += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return total * 10;
}

/** Resident memory of a process now, in MB. */
export function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

/**
 * Peak resident memory of a process while `work` runs, in MB: the kernel's high-water mark, reset
 * first (clear_refs), and samples every few milliseconds in case the reset is not allowed here.
 */
export async function peakRssDuring<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; beforeMb: number; peakMb: number; afterMb: number }> {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // the samples below still see most of the peak
  }
  const beforeMb = rssMb(pid);
  let peakMb = beforeMb;
  const sampler = setInterval(() => {
    try {
      peakMb = Math.max(peakMb, rssMb(pid));
    } catch {
      // exited
    }
  }, 5);
  try {
    const result = await work();
    const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    return { result, beforeMb, peakMb: Math.max(peakMb, hwm, rssMb(pid)), afterMb: rssMb(pid) };
  } finally {
    clearInterval(sampler);
  }
}

export interface Load {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  /** What the errors were: HTTP statuses other than 2xx, socket errors, timeouts. */
  failures?: Record<string, number>;
  /** Server CPU per request: the cost of the work itself, whatever the load generator and the machine's other jobs take. */
  cpuMicrosPerRequest: number;
  /** CPU per request of the PostgreSQL server behind it, when the bench runs that server. */
  helperCpuMicrosPerRequest?: number;
}

export async function load(server: Server, options: { path: string; bodies: readonly string[]; connections: number; seconds: number; method?: string }): Promise<Load> {
  const pid = server.child.pid!;
  const cpuBefore = cpuMs(pid);
  const helperBefore = server.helperCpuMs?.();
  let next = 0;
  const result = await autocannon({
    url: `${server.url}${options.path}`,
    method: (options.method ?? 'POST') as 'POST',
    connections: options.connections,
    duration: options.seconds,
    headers: { 'content-type': 'application/json' },
    requests: [{ setupRequest: (request) => ({ ...request, body: options.bodies[next++ % options.bodies.length] }) }],
  });
  const requests = Math.max(1, result.requests.total);
  const failures: Record<string, number> = {};
  for (const [status, { count }] of Object.entries(result.statusCodeStats ?? {})) if (!status.startsWith('2')) failures[`HTTP ${status}`] = count ?? 0;
  if (result.timeouts) failures.timeouts = result.timeouts;
  if (result.errors - result.timeouts > 0) failures['socket errors'] = result.errors - result.timeouts;
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
    ...(Object.keys(failures).length ? { failures } : {}),
    cpuMicrosPerRequest: ((cpuMs(pid) - cpuBefore) * 1000) / requests,
    ...(helperBefore !== undefined ? { helperCpuMicrosPerRequest: ((server.helperCpuMs!() - helperBefore) * 1000) / requests } : {}),
  };
}

export interface Summary {
  /** The best round's. */
  requestsPerSecond: number;
  medianRequestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  /** The lowest of the rounds. */
  cpuMicrosPerRequest: number;
  helperCpuMicrosPerRequest?: number;
  runs: number[];
}

/** Each figure over the rounds: throughput and CPU from the best round, latencies as medians, errors summed. */
export function summarise(loads: readonly Load[]): Summary {
  const helper = loads.map((l) => l.helperCpuMicrosPerRequest).filter((v): v is number => v !== undefined);
  // The best round, not the median: on a shared machine another tenant's load only ever slows a
  // run down (the same server's CPU per request moved 2-3× between rounds here), so a server's
  // best round is the closest to what it can do; the median is kept beside it.
  return {
    requestsPerSecond: round(Math.max(...loads.map((l) => l.requestsPerSecond))),
    medianRequestsPerSecond: round(median(loads.map((l) => l.requestsPerSecond))),
    p50: median(loads.map((l) => l.p50)),
    p99: median(loads.map((l) => l.p99)),
    errors: loads.reduce((total, l) => total + l.errors, 0),
    cpuMicrosPerRequest: round(Math.min(...loads.map((l) => l.cpuMicrosPerRequest)), 1),
    ...(helper.length ? { helperCpuMicrosPerRequest: round(Math.min(...helper), 1) } : {}),
    runs: loads.map((l) => round(l.requestsPerSecond)),
  };
}

/**
 * Runs every scenario once per round, in a different order each round, so slow spells of a shared
 * machine fall on each of them alike; keeps every run.
 */
export async function interleave<K extends string>(rounds: number, scenarios: Record<K, () => Promise<Load>>, label: string): Promise<Record<K, Load[]>> {
  const names = Object.keys(scenarios) as K[];
  const runs = Object.fromEntries(names.map((name) => [name, [] as Load[]])) as Record<K, Load[]>;
  for (let r = 0; r < rounds; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length]!);
    const line: string[] = [];
    for (const name of order) {
      const result = await scenarios[name]();
      runs[name].push(result);
      line.push(`${name} ${result.requestsPerSecond.toFixed(0)}/s ${result.cpuMicrosPerRequest.toFixed(0)} µs${result.errors ? ` ${result.errors} errors (${JSON.stringify(result.failures)})` : ''}`);
    }
    say(`  ${label} round ${r + 1}: ${line.join(', ')}`);
  }
  return runs;
}

/** One request with a body; resolves with the status, the response text and the wall time. */
export async function send(url: string, options: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; text: string; ms: number }> {
  const started = performance.now();
  const response = await fetch(url, { method: options.method ?? (options.body ? 'POST' : 'GET'), body: options.body, headers: { ...(options.body ? { 'content-type': 'application/json' } : {}), ...options.headers } });
  const text = await response.text();
  return { status: response.status, text, ms: performance.now() - started };
}

/** Reads a response to its end, counting lines without keeping them: what a client streaming an export does. */
export function countLines(url: string, headers: Record<string, string>): Promise<{ status: number; lines: number; bytes: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (response) => {
        let lines = 0;
        let bytes = 0;
        response.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
        });
        response.on('end', () => resolve({ status: response.statusCode!, lines, bytes, ms: performance.now() - started }));
        response.on('error', reject);
      })
      .on('error', reject);
  });
}

/** Distinct, realistic leads: the model's own categories plus a few it never saw, ids unique per seed and index. */
export function leadPool(artifact: Artifact, size: number, seed: number): Lead[] {
  const random = seededRandom(seed);
  const categories = (feature: string) => artifact.pipeline.steps.find((s) => s.feature === feature)!.categories.filter((c) => !c.startsWith('('));
  const pages = [...categories('landing_page_id'), 'a-page-the-model-never-saw'];
  const origins = [...categories('origin'), '', 'a_new_channel'];
  const hex = () => Array.from({ length: 24 }, () => Math.floor(random() * 16).toString(16)).join('');
  return Array.from({ length: size }, (_, i) => ({
    mql_id: `${seed.toString(16).padStart(2, '0')}${i.toString(16).padStart(6, '0')}${hex()}`,
    first_contact_date: new Date(Date.UTC(2018, 0, 1) + Math.floor(random() * 300) * 86_400_000).toISOString().slice(0, 10),
    landing_page_id: pages[Math.floor(random() * pages.length)]!,
    origin: origins[Math.floor(random() * origins.length)]!,
  }));
}

export interface Postgres {
  url: string;
  /** CPU of the server and its backends, when the bench started it (else undefined). */
  cpuMs?: () => number;
  /** A URL whose connections use a schema of their own, created empty. */
  schema(name: string): Promise<string>;
  stop(): void;
}

/**
 * PostgreSQL for the bench: BENCH_POSTGRES_URL (or TEST_POSTGRES_URL) when set; otherwise, when
 * PostgreSQL 15 is installed, a throw-away server from scripts/ci/postgres.sh, stopped at the end.
 * Never installs anything: without a server the PostgreSQL figures are left out.
 */
export async function startPostgres(root: string, mode: string): Promise<Postgres | null> {
  if (mode === 'off') return null;
  let url = mode !== 'auto' ? mode : (process.env.BENCH_POSTGRES_URL ?? process.env.TEST_POSTGRES_URL);
  let dir: string | null = null;
  if (!url) {
    if (!existsSync('/usr/lib/postgresql/15/bin/initdb')) {
      say('postgres: skipped (PostgreSQL 15 is not installed; set BENCH_POSTGRES_URL to use a server)');
      return null;
    }
    dir = mkdtempSync(path.join(os.tmpdir(), 'leadscore-bench-pg-'));
    say(`postgres: starting a throw-away server in ${dir}`);
    url = execFileSync(path.join(root, 'scripts/ci/postgres.sh'), ['start', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  }
  const pgDir = dir;
  const postmaster = pgDir ? Number(readFileSync(path.join(pgDir, 'data/postmaster.pid'), 'utf8').split('\n')[0]) : null;
  let stopped = false;
  const stop = () => {
    if (stopped || !pgDir) return;
    stopped = true;
    execFileSync(path.join(root, 'scripts/ci/postgres.sh'), ['stop', pgDir], { stdio: ['ignore', 'ignore', 'inherit'] });
  };
  process.on('exit', stop);
  const base = url;
  return {
    url: base,
    ...(postmaster ? { cpuMs: () => treeCpuMs(postmaster) } : {}),
    async schema(name: string) {
      const client = new pg.Client(base);
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      await client.query(`CREATE SCHEMA ${name}`);
      await client.end();
      const withSchema = new URL(base);
      withSchema.searchParams.set('options', `-c search_path=${name}`);
      return withSchema.toString();
    },
    stop,
  };
}

export function removeOnExit(dir: string): void {
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
}

export interface SideBySide {
  /** Per round, each server's CPU per response (µs) over the same window. */
  rounds: Record<string, number>[];
  errors: number;
}

/**
 * Every server driven at once, each by a load generator of its own (a process) at the same fixed
 * rate, with each server's CPU per response read over the same window: what another tenant takes
 * from this shared machine it takes from all of them in that window, rather than from whichever
 * server's turn it was. A server's capacity is the inverse of its CPU per response, so a ratio of
 * two reads as throughput. (Here single rounds still moved widely; the bench reports the median.)
 */
export async function sideBySide(servers: readonly Server[], options: { path: string; bodies: readonly string[]; rate: number; seconds: number; rounds: number; connections?: number; root: string }, label: string): Promise<SideBySide> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'leadscore-side-'));
  const bodiesFile = path.join(dir, 'bodies.json');
  writeFileSync(bodiesFile, JSON.stringify(options.bodies));
  const rounds: Record<string, number>[] = [];
  let errors = 0;
  try {
    for (let r = 0; r < options.rounds; r++) {
      const drivers = servers.map((server) => {
        const child = spawn(process.execPath, ['--import', 'tsx', path.join(options.root, 'scripts/bench/drive.ts'), `${server.url}${options.path}`, bodiesFile, String(options.rate), String(options.seconds + 2), String(options.connections ?? 8)], {
          cwd: options.root,
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        running.add(child);
        const state = { responses: 0, failures: 0, ended: new Promise((resolve) => child.on('exit', resolve)) };
        let buffered = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          buffered += chunk.toString();
          const lines = buffered.split('\n');
          buffered = lines.pop()!;
          for (const line of lines) {
            const [responses, failures] = line.split(' ').map(Number);
            if (Number.isFinite(responses)) [state.responses, state.failures] = [responses!, failures!];
          }
        });
        return state;
      });
      // The window leaves out each generator's start and end (1 s either side).
      await sleep(1000);
      const start = servers.map((server, i) => ({ cpu: cpuMs(server.child.pid!), responses: drivers[i]!.responses }));
      await sleep(options.seconds * 1000);
      const round: Record<string, number> = {};
      servers.forEach((server, i) => {
        const responses = drivers[i]!.responses - start[i]!.responses;
        round[server.name] = ((cpuMs(server.child.pid!) - start[i]!.cpu) * 1000) / Math.max(1, responses);
      });
      await Promise.all(drivers.map((d) => d.ended));
      errors += drivers.reduce((sum, d) => sum + d.failures, 0);
      rounds.push(round);
      say(`  ${label} round ${r + 1}: ${Object.entries(round).map(([name, us]) => `${name} ${us.toFixed(0)} µs`).join(', ')}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { rounds, errors };
}

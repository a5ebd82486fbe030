import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { saveArtifact } from '../../src/model/artifact.js';
import { trainedFixture, variantArtifact } from '../model/helpers.js';
import { readScrape } from './scrape.js';
import { startServer, waitForOutput, workerPids, type RunningServer } from './process.js';

const healthOnNewConnection = (port: number) =>
  new Promise<{ status: number; version: string }>((resolve, reject) => {
    http.get({ port, path: '/health', agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, version: JSON.parse(body).model?.version }));
    }).on('error', reject);
  });
const getOnNewConnection = async (port: number) => (await healthOnNewConnection(port)).status;
/** The versions that 20 fresh connections are served by; the primary hands them to the workers in turn. */
const versionsServed = async (port: number) => {
  const versions = new Set<string>();
  for (let i = 0; i < 20; i++) versions.add((await healthOnNewConnection(port)).version);
  return [...versions];
};

// One cluster (a primary and two workers) serves the first tests in turn, as one deployment would
// live through them; the back-off test (workers-backoff.test.ts) needs one of its own. Generous limits for a loaded machine;
// nothing waits on them to pass.
describe('WORKERS', { timeout: 90_000 }, () => {
  const key = 'admin-key-0123456789abcdef';
  const auth = { authorization: `Bearer ${key}` };
  const first = trainedFixture().outcome.artifact;
  const second = variantArtifact('b');
  let dir: string;
  let server: RunningServer;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'leadscore-workers-'));
    await saveArtifact(first, dir);
    server = await startServer({ MODEL_PATH: dir, WORKERS: '2', API_KEYS: `${key}:admin+score+read` }, 2);
  });

  it('runs several workers on one port that all answer, and one scrape reports them all', async () => {
    const statuses = [];
    for (let i = 0; i < 20; i++) statuses.push(await getOnNewConnection(server.port));
    expect(statuses.every((status) => status === 200)).toBe(true);
    const pids = new Set(
      server
        .stdout()
        .split('\n')
        .filter((line) => line.includes('"msg":"request"'))
        .map((line) => JSON.parse(line).pid),
    );
    expect(pids.size).toBe(2); // the primary hands connections to the workers in turn

    // One scrape reports the whole process group, whichever worker answers it.
    const lead = JSON.stringify(trainedFixture().leads[0]);
    for (let i = 0; i < 10; i++) {
      const response = await fetch(`http://127.0.0.1:${server.port}/predict`, { method: 'POST', body: lead, headers: { 'content-type': 'application/json', connection: 'close', ...auth } });
      expect(response.status).toBe(200);
    }
    const scrape = readScrape(await (await fetch(`http://127.0.0.1:${server.port}/metrics`, { headers: { connection: 'close', ...auth } })).text());
    expect(scrape.value('http_request_duration_seconds', { route: '/health', status_code: '200' })).toBe(20);
    expect(scrape.value('leadscore_predictions_total')).toBe(10);
    expect(scrape.value('leadscore_model_info')).toBe(1);
  });

  it('reloads every worker: through one worker’s admin route, and on SIGHUP to the primary', async () => {
    expect(await versionsServed(server.port)).toEqual([first.model_version]);

    await saveArtifact(second, dir);
    const response = await fetch(`http://127.0.0.1:${server.port}/admin/model/reload`, { method: 'POST', headers: auth });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ model_version: second.model_version, previous_version: first.model_version, processes: 2 });
    expect(await versionsServed(server.port)).toEqual([second.model_version]); // both workers, as soon as the reload answered

    await saveArtifact(first, dir);
    server.child.kill('SIGHUP');
    let served = await versionsServed(server.port);
    for (let i = 0; i < 50 && served.join() !== first.model_version; i++) served = await versionsServed(server.port);
    expect(served).toEqual([first.model_version]);
  });

  it('brings a worker that replaces a dead one up to date with the reloads and challenger changes made while it started', async () => {
    const post = async (url: string, body?: unknown) => {
      const response = await fetch(`http://127.0.0.1:${server.port}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(body ?? {}) });
      expect(response.status, await response.clone().text()).toBe(200);
      return response.json() as Promise<{ processes: number }>;
    };
    const served = async () => {
      const response = await fetch(`http://127.0.0.1:${server.port}/models`, { headers: { connection: 'close', ...auth } });
      const { models } = (await response.json()) as { models: { model_version: string; champion: boolean; challenger: boolean }[] };
      return { champion: models.find((m) => m.champion)?.model_version, challenger: models.find((m) => m.challenger)?.model_version ?? null };
    };
    expect((await post('/admin/model/challenger', { version: second.model_version })).processes).toBe(2);

    const workers = workerPids(server);
    const count = (pattern: RegExp) => server.stdout().match(pattern)?.length ?? 0;
    const listening = count(/listening at/g);
    const victim = workers.at(-1)!;
    process.kill(victim, 'SIGKILL');
    await waitForOutput(server, () => server.stderr().includes(`worker ${victim} exited with SIGKILL; starting another`));
    // Its replacement has loaded the model latest.json named then: now a new default and a reload,
    // then the challenger changed back and forth until it listens.
    await waitForOutput(server, () => workerPids(server).length > workers.length, 'the replacement loading its model');
    const replacement = workerPids(server).at(-1)!;
    expect(workers).not.toContain(replacement);
    const third = variantArtifact('c', 0.25);
    await saveArtifact(third, dir);
    await post('/admin/model/reload');
    let last = second.model_version;
    for (let turn = 0; turn < 2 || count(/listening at/g) === listening; turn++) {
      last = turn % 2 ? second.model_version : first.model_version;
      await post('/admin/model/challenger', { version: last });
    }
    // It listens only once the primary has brought it up to date: by then it has logged both changes.
    const applied = (what: RegExp) => server.stdout().split('\n').some((line) => line.includes(`"pid":${replacement},`) && what.test(line));
    expect(applied(/"msg":"model reload done"/)).toBe(true);
    expect(applied(new RegExp(`"model_version":"${last}".*"msg":"challenger change done"`))).toBe(true);
    for (let i = 0; i < 20; i++) expect(await served()).toEqual({ champion: third.model_version, challenger: last }); // both workers, in turn
  });

  it('gives a replacement the version its siblings serve when latest.json moved without a reload', async () => {
    const [before] = await versionsServed(server.port);
    // A new default on disk, as `npm run train` makes one, and no reload: the service keeps serving what it served.
    const fourth = variantArtifact('d', -0.25);
    await saveArtifact(fourth, dir);
    const workers = workerPids(server);
    const listening = [...server.stdout().matchAll(/listening at/g)].length;
    const victim = workers.at(-1)!;
    process.kill(victim, 'SIGKILL');
    await waitForOutput(server, () => [...server.stdout().matchAll(/listening at/g)].length > listening, 'the replacement listening');
    expect(await versionsServed(server.port)).toEqual([before]); // both workers, in turn
    // The replacement loaded the new default, then the primary gave it the siblings' version before it listened.
    const replacement = workerPids(server).at(-1)!;
    const logged = (what: string) => server.stdout().split('\n').some((line) => line.includes(`"pid":${replacement},`) && line.includes(what));
    expect(logged(`"model_version":"${fourth.model_version}","sha256":"${fourth.sha256}","msg":"model loaded"`)).toBe(true);
    expect(logged(`"model_version":"${before}","previous_version":"${fourth.model_version}","msg":"change to the siblings' model done"`)).toBe(true);
  });

  it('stops every worker on SIGTERM and exits 0', async () => {
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

});

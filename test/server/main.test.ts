import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { saveArtifact } from '../../src/model/artifact.js';
import { trainedFixture } from '../model/helpers.js';
import { spawnServer, startServer } from './process.js';

async function savedFixture(): Promise<string> {
  return saveArtifact(trainedFixture().outcome.artifact, mkdtempSync(path.join(tmpdir(), 'leadscore-main-')));
}

async function expectRefusedStart(env: Record<string, string>, message: RegExp) {
  const run = spawnServer(env);
  expect(await run.exited).not.toBe(0);
  const lines = run.stderr().trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(message);
  expect(run.stdout()).not.toMatch(/listening/);
}

describe('process start-up', () => {
  it('refuses a missing, corrupt, tampered or wrong-format artifact, naming the file', async () => {
    const good = await savedFixture();
    const dir = path.dirname(good);
    const text = readFileSync(good, 'utf8');
    const corrupt = path.join(dir, 'corrupt.json');
    writeFileSync(corrupt, text.slice(0, text.length / 2));
    const tampered = path.join(dir, 'tampered.json');
    writeFileSync(tampered, text.replace(/"intercept": -?\d/, (m) => m.slice(0, -1) + ((Number(m.at(-1)) + 1) % 10)));
    const wrongFormat = path.join(dir, 'wrong.json');
    writeFileSync(wrongFormat, JSON.stringify({ name: 'LogisticRegression', weights: [] }));
    await expectRefusedStart({ MODEL_PATH: path.join(dir, 'absent.json') }, /^leadscore: cannot load the model: .*absent\.json: no such file$/);
    await expectRefusedStart({ MODEL_PATH: corrupt }, /corrupt\.json: not valid JSON/);
    await expectRefusedStart({ MODEL_PATH: tampered }, /tampered\.json: content does not match its sha256/);
    await expectRefusedStart({ MODEL_PATH: wrongFormat }, /wrong\.json: not a lead-conversion model/);
  });

  it('refuses a bad environment variable by name', async () => {
    await expectRefusedStart({ MAX_BATCH: 'lots' }, /^leadscore: invalid configuration: MAX_BATCH must be a whole number$/);
  });

  it('serves a good artifact given by MODEL_PATH', async () => {
    const server = await startServer({ MODEL_PATH: await savedFixture() });
    const health = await fetch(`http://127.0.0.1:${server.port}/health`);
    expect((await health.json()).model.version).toBe(trainedFixture().outcome.artifact.model_version);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});

describe('graceful shutdown', () => {
  it('finishes an in-flight request after SIGTERM while /health says 503, then exits 0', async () => {
    const server = await startServer({ MODEL_PATH: await savedFixture(), SHUTDOWN_DRAIN_MS: '300' });
    const lead = trainedFixture().leads[0]!;
    const body = JSON.stringify({ leads: Array.from({ length: 200 }, (_, i) => ({ ...lead, mql_id: `lead-${i}` })) });
    // A slow client: half the body now, the rest after the signal.
    const inFlight = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        { port: server.port, method: 'POST', path: '/batch-predict', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          let text = '';
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, body.length / 2));
      setTimeout(() => req.end(body.slice(body.length / 2)), 700);
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    server.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const health = await fetch(`http://127.0.0.1:${server.port}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ status: 'shutting_down' });
    const finished = await inFlight;
    expect(finished.status).toBe(200);
    expect(JSON.parse(finished.body).predictions).toHaveLength(200);
    expect(await server.exited).toBe(0);
    expect(server.stdout()).toMatch(/"msg":"stopped"/);
  });
});

// The process entry's start-up: refusals of bad artifacts and settings, and serving a good one.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { trainedFixture } from '../model/helpers.js';
import { savedFixture, spawnServer, startServer } from './process.js';

async function expectRefusedStart(env: Record<string, string>, message: RegExp) {
  const run = spawnServer(env);
  expect(await run.exited).not.toBe(0);
  const lines = run.stderr().trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(message);
  expect(run.stdout()).not.toMatch(/listening/);
}

describe('process start-up', { timeout: 60_000 }, () => {
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
    await Promise.all([
      expectRefusedStart({ MODEL_PATH: path.join(dir, 'absent.json') }, /^leadscore: cannot load the model: .*absent\.json: no such file$/),
      expectRefusedStart({ MODEL_PATH: corrupt }, /corrupt\.json: not valid JSON/),
      expectRefusedStart({ MODEL_PATH: tampered }, /tampered\.json: content does not match its sha256/),
      expectRefusedStart({ MODEL_PATH: wrongFormat }, /wrong\.json: not a lead-conversion model/),
    ]);
  });

  it('refuses a bad environment variable by name', async () => {
    await expectRefusedStart({ MAX_BATCH: 'lots' }, /^leadscore: invalid configuration: MAX_BATCH must be a whole number$/);
  });

  it('serves a good artifact given by MODEL_PATH', async () => {
    const server = await startServer({ MODEL_PATH: await savedFixture() });
    const health = await fetch(`http://127.0.0.1:${server.port}/health`);
    expect((await health.json()).model.version).toBe(trainedFixture().outcome.artifact.model_version);
    // Swagger UI is bundled with the server; its page, its files and its logo are served from beside the bundle.
    const get = async (url: string) => {
      const response = await fetch(`http://127.0.0.1:${server.port}${url}`);
      return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
    };
    expect(await get('/docs/')).toMatchObject({ status: 200, type: expect.stringMatching(/^text\/html/), body: expect.stringContaining('swagger-ui-bundle.js') });
    expect(await get('/docs/static/swagger-ui-bundle.js')).toMatchObject({ status: 200, type: expect.stringMatching(/javascript/) });
    expect((await get('/docs/static/swagger-initializer.js')).body).toContain('data:image/svg+xml;base64,');
    expect(JSON.parse((await get('/docs/json')).body).info.title).toBe('leadscore');
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});

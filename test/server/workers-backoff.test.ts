// WORKERS: a primary whose replacement workers keep dying backs off, then gives up.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { saveArtifact } from '../../src/model/artifact.js';
import { trainedFixture } from '../model/helpers.js';
import { startServer } from './process.js';

// A file of its own, so that it runs beside the shared cluster's tests: most of it is waiting on the back-off.
describe('WORKERS back-off', { timeout: 90_000 }, () => {
  it('backs off when replacements keep dying, then gives up with exit 1 instead of spinning', async () => {
    const model = await saveArtifact(trainedFixture().outcome.artifact, mkdtempSync(path.join(tmpdir(), 'leadscore-workers-')));
    const server = await startServer({ MODEL_PATH: model, WORKERS: '2' }, 2);
    const workerPids = [...new Set([...server.stdout().matchAll(/"pid":(\d+).*"msg":"model loaded"/g)].map((m) => Number(m[1])))];
    expect(workerPids).toHaveLength(2);
    writeFileSync(model, '{"truncated'); // the artifact is damaged on disk while the service runs
    process.kill(workerPids[0]!, 'SIGKILL');
    expect(await server.exited).toBe(1);
    const restarts = server.stderr().match(/starting another in \d+ ms/g) ?? [];
    expect(restarts.map((line) => Number(/in (\d+) ms/.exec(line)![1]))).toEqual([100, 200, 400, 800]);
    expect(server.stderr()).toMatch(/5 workers in a row exited before listening; giving up/);
  });
});

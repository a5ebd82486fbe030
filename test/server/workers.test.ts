import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { saveArtifact } from '../../src/model/artifact.js';
import { trainedFixture } from '../model/helpers.js';
import { startServer } from './process.js';

const getOnNewConnection = (port: number) =>
  new Promise<number>((resolve, reject) => {
    http.get({ port, path: '/health', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    }).on('error', reject);
  });

describe('WORKERS', () => {
  it('runs several workers on one port that all answer, and stops them all on SIGTERM', async () => {
    const model = await saveArtifact(trainedFixture().outcome.artifact, mkdtempSync(path.join(tmpdir(), 'leadscore-workers-')));
    const server = await startServer({ MODEL_PATH: model, WORKERS: '2' }, 2);
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
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

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


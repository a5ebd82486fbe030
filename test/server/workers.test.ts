import http from 'node:http';
import { mkdtempSync } from 'node:fs';
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
});

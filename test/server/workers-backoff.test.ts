// WORKERS: a primary whose replacement workers keep dying backs off, then gives up; workers dying
// while the primary asks them something leave the primary up.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'vitest';
import { saveArtifact } from '../../src/model/artifact.js';
import { trainedFixture } from '../model/helpers.js';
import { savedFixture, startServer } from './process.js';

// A file of its own, so that it runs beside the shared cluster's tests: most of it is waiting on
// the back-off and on replacement workers; its cases run side by side, each with a cluster of its own.
describe.concurrent('WORKERS failures', { timeout: 90_000 }, () => {
  it('backs off when replacements keep dying, then gives up with exit 1 instead of spinning', async ({ expect }) => {
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

  it('keeps the cluster up when workers die while the primary is asking them for their drift counts', async ({ expect }) => {
    const server = await startServer({ MODEL_PATH: await savedFixture(), WORKERS: '2' }, 2);
    const listening = () => [...server.stdout().matchAll(/listening at/g)].length;
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    // Each /model/drift asks the primary, which asks every worker: killing one then leaves the
    // primary writing to a closed channel (it used to die of it within two or three kills).
    const questions = new AbortController();
    for (let kill = 0; kill < 3; kill++) {
      const workers = [...new Set([...server.stdout().matchAll(/"pid":(\d+).*"msg":"model loaded"/g)].map((m) => Number(m[1])))].filter(alive);
      const before = listening();
      // Not awaited: a connection the cluster had handed to the killed worker is lost with it.
      for (let q = 0; q < 30; q++) void fetch(`http://127.0.0.1:${server.port}/model/drift`, { signal: questions.signal }).catch(() => null);
      process.kill(workers[0]!, 'SIGKILL');
      // Its replacement listens; the primary is the one that forks it, so it is still there.
      while (listening() === before) {
        expect(server.child.exitCode, server.stderr()).toBeNull();
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    questions.abort();
    expect(server.stderr()).not.toMatch(/Unhandled 'error'|MaxListenersExceededWarning/);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});

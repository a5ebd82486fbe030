// WORKERS: workers dying while the primary asks them something leave the primary up; a primary
// whose replacement workers keep dying backs off, then gives up.
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { savedFixture, startServer, waitForOutput, workerPids } from './process.js';

// A file of its own, so that it runs beside the shared cluster's tests. One cluster goes through
// both, in the order a bad day brings them: each start of a cluster costs three processes' start-up
// on a machine the whole suite shares.
describe('WORKERS failures', { timeout: 90_000 }, () => {
  it('keeps the cluster up when workers die mid-question; backs off when their replacements keep dying, then gives up with exit 1', async () => {
    const model = await savedFixture();
    const server = await startServer({ MODEL_PATH: model, WORKERS: '2' }, 2);
    const listening = () => [...server.stdout().matchAll(/listening at/g)].length;
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };

    // Each /model/drift asks the primary, which asks every worker. Killing one while they are asked
    // left the primary writing to a closed channel (it used to die of it within two or three kills);
    // asking the replacement while it still loads its model left the question unanswered for 30 s.
    const questions = new AbortController();
    for (let kill = 0; kill < 3; kill++) {
      const before = listening();
      // Not awaited: a connection the cluster had handed to the killed worker is lost with it.
      for (let q = 0; q < 30; q++) void fetch(`http://127.0.0.1:${server.port}/model/drift`, { signal: questions.signal }).catch(() => null);
      const victim = workerPids(server).filter(alive)[0]!;
      process.kill(victim, 'SIGKILL');
      await waitForOutput(server, () => server.stderr().includes(`worker ${victim} exited with SIGKILL; starting another`));
      // While its replacement starts, the questions go to the worker left: every one is answered,
      // long before the 30 s a drift question (or prom-client's 5 s for a scrape) to a worker that
      // does not listen yet would wait.
      const asked = Array.from({ length: 10 }, () => fetch(`http://127.0.0.1:${server.port}/model/drift`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.status));
      const scrape = await fetch(`http://127.0.0.1:${server.port}/metrics`, { signal: AbortSignal.timeout(4_000) });
      expect(await Promise.all(asked)).toEqual(Array(10).fill(200));
      expect(scrape.status).toBe(200);
      const text = await scrape.text();
      expect(text).toMatch(/^leadscore_model_info\{/m);
      expect(text).not.toMatch(/could not be collected|^# worker \d+:/m);
      // Its replacement listens; the primary is the one that forks it, so it is still there
      // (the wait fails with the primary's stderr if it exits instead).
      await waitForOutput(server, () => listening() > before);
    }
    questions.abort();
    expect(server.stderr()).not.toMatch(/Unhandled 'error'|MaxListenersExceededWarning/);
    expect(server.stderr()).not.toMatch(/starting another in/); // replacing a worker that had listened: no back-off

    // The artifact is damaged on disk while the service runs: every replacement now dies before it listens.
    writeFileSync(model, '{"truncated');
    process.kill(workerPids(server).filter(alive)[0]!, 'SIGKILL');
    expect(await server.exited).toBe(1);
    const restarts = server.stderr().match(/starting another in \d+ ms/g) ?? [];
    expect(restarts.map((line) => Number(/in (\d+) ms/.exec(line)![1]))).toEqual([100, 200, 400, 800]);
    expect(server.stderr()).toMatch(/5 workers in a row exited before listening; giving up/);
  });
});

// npx tsx scripts/bench/export-http.ts <build> [<build> …]: the CSV export of 100,000 stored scores
// over HTTP, builds side by side in alternating rounds, each server on a SQLite store of its own
// filled through /batch-predict: rows per second, and per second of the server's CPU.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { countLines, cpuMs, leadPool, send, startServer, stopServer } from './harness.js';
import { loadArtifact } from '../../src/model/artifact.js';
const root = path.resolve(import.meta.dirname, '../..');
const shipped = (await loadArtifact(path.join(root, 'artifacts'))).artifact;
const leads = leadPool(shipped, 100_000, 7);
// Each a checkout with its own `npm run build` done (a worktree of an earlier commit, say).
const builds = process.argv.slice(2).map((build) => path.resolve(build));
if (builds.length === 0) throw new Error('usage: npx tsx scripts/bench/export-http.ts <build> [<build> …]');
const servers = [];
for (const build of builds) {
  const dir = mkdtempSync(path.join(tmpdir(), 'leadscore-export-http-'));
  servers.push(await startServer(build, build, ['dist/server/main.js'], { STORE_URL: `sqlite:${dir}/scores.db`, MODEL_PATH: path.join(build, 'artifacts'), MAX_BATCH: '10000' }));
}
for (let b = 0; b < 10; b++) {
  const body = JSON.stringify({ leads: leads.slice(b * 10_000, (b + 1) * 10_000) });
  for (const server of servers) {
    const sent = await send(`${server.url}/batch-predict`, { body });
    if (sent.status !== 200) throw new Error(`${sent.status} ${sent.text.slice(0, 200)}`);
  }
}
for (let round = 0; round < 5; round++) {
  for (const server of servers) {
    const before = cpuMs(server.child.pid!);
    const exported = await countLines(`${server.url}/predictions`, { accept: 'text/csv' });
    const cpu = cpuMs(server.child.pid!) - before;
    const rows = exported.lines - 1;
    console.log(`${server.name} round ${round}: ${rows} rows, ${Math.round(rows / (exported.ms / 1000))} rows/s, ${Math.round(rows / (cpu / 1000))} rows per server CPU s`);
  }
}
for (const server of servers) await stopServer(server);

// Run once when the image is built (dist/server/warm-up.js, see the Dockerfile): starts the service
// beside it with the shipped model and no store, scores one lead, and stops it with SIGTERM. The
// clean exit leaves V8's code for the bundle in dist/server/server.cjs.cache (src/server/launch.ts),
// so a container, whose file system is read-only, starts without compiling it; and an image that
// cannot start or score fails its build instead of its first rollout.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('main.js', import.meta.url));
const cache = fileURLToPath(new URL('server.cjs.cache', import.meta.url));
const LEAD = { mql_id: 'warm-up', first_contact_date: '2018-02-01', landing_page_id: 'warm-up', origin: 'organic_search' };

function fail(message: string): never {
  process.stderr.write(`warm-up: ${message}\n`);
  process.exit(1);
}

const child = spawn(process.execPath, [entry], {
  env: { ...process.env, HOST: '127.0.0.1', PORT: '0', STORE_URL: 'none', SHUTDOWN_DRAIN_MS: '0', LOG_LEVEL: 'info' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
const timer = setTimeout(() => {
  child.kill('SIGKILL');
  fail('the service did not listen within 60 s');
}, 60_000);

let listened = false;
const port = await new Promise<number>((resolve) => {
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk;
    const listening = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
    if (listening && !listened) {
      listened = true;
      resolve(Number(listening[1]));
    }
  });
  void exited.then((code) => listened || fail(`the service exited with ${code} before it listened`));
});
clearTimeout(timer);

const base = `http://127.0.0.1:${port}`;
const health = await fetch(`${base}/health`);
const healthBody = await health.text();
const scored = await fetch(`${base}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(LEAD) });
const score = await scored.text();
child.kill('SIGTERM');
const code = await exited;
if (health.status !== 200) fail(`/health answered ${health.status}: ${healthBody}`);
if (scored.status !== 200) fail(`/predict answered ${scored.status}: ${score}`);
if (code !== 0) fail(`the service exited with ${code} on SIGTERM`);
if (!existsSync(cache)) fail(`no code cache at ${cache}`);
process.stdout.write(`warm-up: the service started, scored a lead (${score}) and stopped; code cache at ${cache}\n`);

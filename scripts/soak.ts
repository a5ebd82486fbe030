// npm run soak -- [--seconds 30] [--workers 1]: the compiled service under continuous load while
// the model is swapped back and forth (and once to a corrupt artifact). Every request must
// succeed, no connection may be reset, and every response must name the version that was live
// at some instant of that request.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadArtifact, saveArtifact, sealArtifact, type Artifact } from '../src/model/artifact.js';
import { projectRoot } from '../src/server/config.js';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '30' }, workers: { type: 'string', default: '1' } } });
const SECONDS = Number(args.seconds);
const root = projectRoot();
const KEY = 'soak-admin-key-0123456789';
const say = (message: string) => process.stderr.write(`${message}\n`);

/** A second model: the shipped one with its intercept moved, sealed under its own version. */
function variantOf(artifact: Artifact): Artifact {
  const { sha256: _sha256, ...body } = artifact;
  return sealArtifact({ ...body, model_version: `${body.model_version}-soak`, model: { ...body.model, intercept: body.model.intercept + 0.3 } });
}

async function main(): Promise<void> {
  const { artifact: shipped } = await loadArtifact(path.join(root, 'artifacts'));
  const dir = mkdtempSync(path.join(tmpdir(), 'leadscore-soak-'));
  const variant = variantOf(shipped);
  await saveArtifact(variant, dir);
  await saveArtifact(shipped, dir);
  const versions = [shipped.model_version, variant.model_version];

  execBuild();
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(process.execPath, ['dist/server/main.js'], {
    cwd: root,
    env: { ...process.env, PORT: String(port), MODEL_PATH: dir, API_KEYS: `${KEY}:admin+score+read`, WORKERS: args.workers, LOG_LEVEL: 'warn', STORE_URL: 'none' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break;
    } catch {
      if (i > 400) throw new Error('the service did not start');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const lead = { mql_id: 'soak', first_contact_date: '2018-05-02', landing_page_id: Object.keys(shipped.model.weights).find((w) => w.startsWith('landing_page_id='))!.slice(16), origin: 'organic_search' };
  const batchBody = JSON.stringify({ leads: Array.from({ length: 100 }, (_, i) => ({ ...lead, mql_id: `soak-${i}` })) });
  const singleBody = JSON.stringify(lead);
  const post = (url: string, body: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ port, method: 'POST', path: url, agent, headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });

  interface Answer { start: number; end: number; version?: string; failure?: string }
  const answers: Answer[] = [];
  /** [start, end, version now live] of each model change; a response inside a window may carry either version. */
  const swaps: { start: number; end: number; version: string; ok: boolean }[] = [];
  const until = Date.now() + SECONDS * 1000;
  const client = async (url: string, body: string) => {
    while (Date.now() < until) {
      const start = performance.now();
      try {
        const response = await post(url, body);
        const end = performance.now();
        if (response.status !== 200) answers.push({ start, end, failure: `HTTP ${response.status} ${response.body.slice(0, 120)}` });
        else answers.push({ start, end, version: JSON.parse(response.body).model_version });
      } catch (error) {
        answers.push({ start, end: performance.now(), failure: (error as NodeJS.ErrnoException).code ?? String(error) });
      }
    }
  };
  const swapper = async () => {
    let next = 1;
    let round = 0;
    while (Date.now() < until - 2000) {
      await new Promise((resolve) => setTimeout(resolve, 2500));
      round++;
      const start = performance.now();
      if (round === 3) {
        // The live artifact corrupted on disk: a reload must be refused and the old model keep serving.
        const live = path.join(dir, `lead-conversion-${versions[1 - next]}.json`);
        const good = path.join(dir, 'good.tmp');
        copyFileSync(live, good);
        writeFileSync(live, '{"format": "leadscore.lead-conv');
        const refused = await post('/admin/model/reload', '{}');
        copyFileSync(good, live);
        say(`corrupt artifact: reload answered ${refused.status} ${refused.body.slice(0, 200)}`);
        swaps.push({ start, end: performance.now(), version: versions[1 - next]!, ok: refused.status === 422 });
        continue;
      }
      const response = await post('/admin/model/promote', JSON.stringify({ version: versions[next] }));
      swaps.push({ start, end: performance.now(), version: versions[next]!, ok: response.status === 200 });
      if (response.status !== 200) say(`promote failed: ${response.status} ${response.body}`);
      next = 1 - next;
    }
  };
  await Promise.all([...Array.from({ length: 6 }, () => client('/predict', singleBody)), ...Array.from({ length: 2 }, () => client('/batch-predict', batchBody)), swapper()]);

  const liveAt = (t: number) => {
    let live = versions[0]!;
    for (const swap of swaps) if (swap.end <= t) live = swap.version;
    return live;
  };
  const allowed = (answer: Answer) => {
    const set = new Set([liveAt(answer.start), liveAt(answer.end)]);
    for (const swap of swaps) if (swap.end >= answer.start && swap.start <= answer.end) set.add(swap.version).add(liveAt(swap.start));
    return set;
  };
  const failures = answers.filter((a) => a.failure);
  const wrongVersion = answers.filter((a) => a.version && !allowed(a).has(a.version));
  const byVersion = Object.fromEntries(versions.map((v) => [v, answers.filter((a) => a.version === v).length]));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  agent.destroy();
  console.log(
    JSON.stringify({ seconds: SECONDS, workers: Number(args.workers), requests: answers.length, failures: failures.length, failure_examples: failures.slice(0, 3).map((f) => f.failure), wrong_version: wrongVersion.length, swaps: swaps.length, swaps_ok: swaps.every((s) => s.ok), responses_by_version: byVersion }, null, 2),
  );
  if (failures.length || wrongVersion.length || !swaps.every((s) => s.ok)) process.exit(1);
}

function execBuild(): void {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
}

main().catch((error: unknown) => {
  say(`soak: ${(error as Error).message}`);
  process.exit(1);
});

// The shipping files: what the Dockerfile, the CircleCI config and the README promise, checked without Docker or CircleCI.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startServer } from './server/process.js';

const run = promisify(execFile);
const dockerfile = readFileSync('Dockerfile', 'utf8');
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'));
const stages = instructions.filter((line) => line.startsWith('FROM '));
const runtime = instructions.slice(instructions.lastIndexOf(stages.at(-1)!));

describe('Dockerfile', () => {
  it('builds in one node:20-slim stage and runs in another with production dependencies only', () => {
    expect(stages).toEqual(['FROM node:20-slim AS build', 'FROM node:20-slim AS runtime']);
    expect(instructions).toContain('RUN npm run build');
    expect(runtime.some((line) => /^RUN npm ci --omit=dev/.test(line))).toBe(true);
    expect(runtime).toContain('COPY --from=build /app/dist ./dist');
  });

  it('ships the model, runs as a non-root user, listens on all interfaces and checks /health', () => {
    expect(runtime).toContain('COPY artifacts ./artifacts');
    expect(runtime.find((line) => line.startsWith('USER '))).toMatch(/^USER (?!root)\w+/);
    expect(runtime.find((line) => line.startsWith('ENV '))).toMatch(/HOST=0\.0\.0\.0/);
    expect(runtime.find((line) => line.startsWith('EXPOSE '))).toBe('EXPOSE 3000');
    expect(runtime.find((line) => line.startsWith('HEALTHCHECK '))).toMatch(/\/health/);
  });

  it('starts node itself as PID 1 (exec form, no shell or npm in between)', () => {
    const cmd = JSON.parse(runtime.find((line) => line.startsWith('CMD '))!.slice(4)) as string[];
    expect(cmd[0]).toBe('node');
    expect(runtime.some((line) => line.startsWith('ENTRYPOINT'))).toBe(false);
  });

  // What the warm-up does is tested with the production entry (test/server/launch.test.ts).
  it('starts the service once at build time, after the model is in and before the non-root user', () => {
    const warmUp = runtime.findIndex((line) => line === 'RUN node dist/server/warm-up.js');
    expect(warmUp).toBeGreaterThan(runtime.indexOf('COPY --from=build /app/dist ./dist'));
    expect(warmUp).toBeGreaterThan(runtime.indexOf('COPY artifacts ./artifacts'));
    expect(warmUp).toBeLessThan(runtime.findIndex((line) => line.startsWith('USER ')));
  });

  describe('the command the image runs', () => {
    // dist/ is what `npm run build` (the image's build step) wrote: the suite's setup runs it (test/setup/build.ts).
    it('answers /health with the shipped model, reads its SQLite store back, and stops cleanly on SIGTERM', async () => {
      const cmd = JSON.parse(runtime.find((line) => line.startsWith('CMD '))!.slice(4)) as string[];
      const store = path.join(mkdtempSync(path.join(tmpdir(), 'leadscore-ship-')), 'scores.db');
      const server = await startServer({ HOST: '127.0.0.1', PORT: '0', NODE_ENV: 'production', STORE_URL: `sqlite:${store}` }, 1, cmd[1]);
      const port = server.port;
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(200);
      const shipped = JSON.parse(readFileSync('artifacts/latest.json', 'utf8'));
      expect((await health.json()).model.version).toBe(shipped.model_version);
      // The build copies the dashboard's own files beside the compiled route, and the image has Vega's builds.
      const page = await (await fetch(`http://127.0.0.1:${port}/dashboard`)).text();
      const files = [...page.matchAll(/(?:src|href)="(dashboard\/assets\/[^"]+)"/g)].map((m) => m[1]!);
      expect(files.length).toBeGreaterThanOrEqual(4);
      for (const file of files) expect((await fetch(`http://127.0.0.1:${port}/${file}`)).status, file).toBe(200);
      // The store's reads run on threads the bundle starts from its own code: a page, one lead, an export.
      const leads = Array.from({ length: 3 }, (_, i) => ({ mql_id: `ship-${i}`, first_contact_date: '2018-02-01', landing_page_id: `page-${i}`, origin: 'organic_search' }));
      expect((await fetch(`http://127.0.0.1:${port}/batch-predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ leads }) })).status).toBe(200);
      const listed = (await (await fetch(`http://127.0.0.1:${port}/predictions`)).json()) as { predictions: { mql_id: string }[] };
      expect(listed.predictions.map((p) => p.mql_id).sort()).toEqual(['ship-0', 'ship-1', 'ship-2']);
      expect((await fetch(`http://127.0.0.1:${port}/predictions/ship-1`)).status).toBe(200);
      const csv = await (await fetch(`http://127.0.0.1:${port}/predictions`, { headers: { accept: 'text/csv' } })).text();
      expect(csv.trim().split('\n')).toHaveLength(4);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    });
  });
});

describe('.circleci/config.yml', () => {
  const config = parse(readFileSync('.circleci/config.yml', 'utf8'));
  const scripts = Object.keys(JSON.parse(readFileSync('package.json', 'utf8')).scripts);
  const commands = JSON.stringify(config).match(/npm run [\w:-]+/g) ?? [];

  it('is CircleCI 2.1 with every job in the workflow, and every workflow job defined', () => {
    expect(config.version).toBe(2.1);
    const [workflow] = Object.values(config.workflows) as { jobs: (string | Record<string, unknown>)[] }[];
    const listed = workflow!.jobs.map((job) => (typeof job === 'string' ? job : Object.keys(job)[0]!));
    expect(listed.sort()).toEqual(Object.keys(config.jobs).sort());
  });

  it('names only npm scripts that exist', () => {
    expect(commands.length).toBeGreaterThan(0);
    for (const command of commands) expect(scripts).toContain(command.replace('npm run ', ''));
  });

  it('caches npm on the lock file, keeps the model as a build artifact and pushes only from main', () => {
    expect(JSON.stringify(config)).toContain('{{ checksum \\"package-lock.json\\" }}');
    expect(JSON.stringify(config.jobs.train)).toMatch(/--min-auc 0\.68/);
    expect(JSON.stringify(config.jobs.train)).toContain('store_artifacts');
    expect(JSON.stringify(config.jobs.test)).toContain('"path":".tmp/dashboard.png"'); // the browser test's screenshot
    const [workflow] = Object.values(config.workflows) as { jobs: (string | Record<string, { filters?: unknown }>)[] }[];
    const image = workflow!.jobs.find((job) => typeof job !== 'string' && 'image' in job) as Record<string, { filters: unknown }>;
    expect(image.image!.filters).toEqual({ branches: { only: 'main' } });
  });

  describe('the image ships the model the train job just produced', () => {
    type Step = string | { run?: { command?: string }; attach_workspace?: { at: string }; persist_to_workspace?: { root: string; paths: string[] } };
    const steps = (job: string) => config.jobs[job].steps as Step[];
    const objects = (job: string) => steps(job).map((step) => (typeof step === 'string' ? {} : step));
    const imageSteps = objects('image');
    const index = (pattern: RegExp) => imageSteps.findIndex((step) => pattern.test(step.run?.command ?? ''));
    const attach = imageSteps.findIndex((step) => step.attach_workspace);
    const replace = index(/\brm -rf artifacts\b/);
    const build = index(/\bdocker build\b/);
    const check = index(/\bdocker run\b/);
    const push = index(/\bdocker push\b/);
    const command = (at: number) => imageSteps[at]?.run?.command ?? '';

    it('after train, attaches the folder train persisted, puts it in place of artifacts/, builds, checks, then pushes', () => {
      const [workflow] = Object.values(config.workflows) as { jobs: (string | Record<string, { requires?: string[] }>)[] }[];
      const image = workflow!.jobs.find((job) => typeof job !== 'string' && 'image' in job) as Record<string, { requires: string[] }>;
      expect(image.image!.requires).toContain('train');
      // train writes the model into build/model and persists exactly that folder; image attaches it there
      expect(JSON.stringify(config.jobs.train)).toContain('--out build/model');
      expect(objects('train').find((step) => step.persist_to_workspace)?.persist_to_workspace).toEqual({ root: 'build', paths: ['model'] });
      expect(imageSteps[attach]?.attach_workspace?.at).toBe('build');
      expect(command(replace)).toMatch(/cp -R build\/model artifacts/);
      expect([attach, replace, build, check, push].every((index) => index >= 0)).toBe(true);
      expect(attach < replace && replace < build && build < check && check < push).toBe(true);
      // The Dockerfile takes the model from artifacts/ of the build context, where the trained one now is.
      expect(runtime).toContain('COPY artifacts ./artifacts');
      expect(command(check)).toMatch(/build\/model\/latest\.json/);
    });

    it('the replacing step leaves exactly the trained files in artifacts/, and stops when there is none', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'leadscore-ci-'));
      const write = (file: string, text: string) => {
        mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        writeFileSync(path.join(dir, file), text);
      };
      write('artifacts/latest.json', JSON.stringify({ artifact: 'lead-conversion-committed.json', model_version: 'committed' }));
      write('artifacts/lead-conversion-committed.json', '{}');
      write('artifacts/charts/gains.svg', '<svg/>');
      const script = command(replace);
      await expect(run('bash', ['-eo', 'pipefail', '-c', script], { cwd: dir })).rejects.toMatchObject({ stdout: expect.stringMatching(/no trained model/) });
      expect(readdirSync(path.join(dir, 'artifacts')).sort()).toEqual(['charts', 'latest.json', 'lead-conversion-committed.json']);

      write('build/model/latest.json', JSON.stringify({ artifact: 'lead-conversion-trained.json', model_version: 'trained' }));
      write('build/model/lead-conversion-trained.json', '{}');
      write('build/model/lead-conversion-trained.report.html', '<html/>');
      const { stdout } = await run('bash', ['-eo', 'pipefail', '-c', script], { cwd: dir });
      expect(stdout).toMatch(/shipping model trained/);
      expect(readdirSync(path.join(dir, 'artifacts')).sort()).toEqual(readdirSync(path.join(dir, 'build/model')).sort());
      expect(JSON.parse(readFileSync(path.join(dir, 'artifacts/latest.json'), 'utf8')).model_version).toBe('trained');
    });
  });
});

describe('README', () => {
  it('shows the dashboard with a committed picture small enough for a README', () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('## Dashboard'));
    const picture = /!\[[^\]]+\]\((docs\/[\w.-]+\.png)\)/.exec(section)?.[1];
    expect(picture).toBeDefined();
    expect(statSync(picture!).size).toBeLessThan(300 * 1024);
  });
});

// The shipping files: what the Dockerfile, the CircleCI config and the README promise, checked without Docker or CircleCI.
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
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

  describe('the command the image runs', () => {
    beforeAll(async () => {
      await run('npm', ['run', 'build'], { timeout: 120_000 });
    }, 150_000);

    it('answers /health with the shipped model and stops cleanly on SIGTERM', async () => {
      const cmd = JSON.parse(runtime.find((line) => line.startsWith('CMD '))!.slice(4)) as string[];
      const server = await startServer({ HOST: '127.0.0.1', PORT: '0', NODE_ENV: 'production' }, 1, cmd[1]);
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

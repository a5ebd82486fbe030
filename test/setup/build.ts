// Runs once before the suite: the tests start the service and the CLIs as production runs them,
// compiled (node dist/…), which starts each process in about half the CPU time that compiling it
// on the fly with tsx takes. Builds only when a source is newer than the last build. The child
// processes the store tests drive are bundled too (test/setup/children.ts), for the same reason.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { CHILD_SOURCES, CHILDREN_DIR } from './children.js';

const root = path.resolve(import.meta.dirname, '../..');
const STAMP = path.join(root, 'dist', '.built-at');

function newest(entry: string): number {
  const stats = statSync(entry);
  if (!stats.isDirectory()) return stats.mtimeMs;
  return readdirSync(entry).reduce((latest, name) => Math.max(latest, newest(path.join(entry, name))), stats.mtimeMs);
}

export default function build(): void {
  // A few tens of milliseconds: always, so a child never runs stale code.
  buildSync({
    entryPoints: CHILD_SOURCES.map((source) => path.join(root, source)),
    outdir: CHILDREN_DIR,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    external: ['better-sqlite3', 'pg', 'pg-cursor'],
    banner: { js: "import { createRequire as __testRequire } from 'node:module'; const require = __testRequire(import.meta.url);" },
  });
  const sources = ['src', 'scripts', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'].map((name) => path.join(root, name));
  if (existsSync(STAMP) && statSync(STAMP).mtimeMs >= Math.max(...sources.filter(existsSync).map(newest))) return;
  const started = Date.now();
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  writeFileSync(STAMP, `${new Date(started).toISOString()}\n`);
  // The stamp's time is the build's start: a source saved while it ran is newer, and rebuilds next time.
  utimesSync(STAMP, started / 1000, started / 1000);
}

// The server as production runs it: the compiled service (dist/src) bundled by esbuild into
// dist/server/, one file plus a chunk per part loaded on demand (the HTTP stack, each store
// backend). Node 20 has no compile cache, and resolving, reading and compiling some 800 module
// files was most of a cold start: bundled, a start to "listening" took 0.82× the time (npm run
// bench reports cold start). The dashboard's own files go beside it, where its route looks.
import { cpSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist/server', { recursive: true, force: true });
await build({
  // openapi.js: the document as the service generates it, for the suite's check against openapi.yaml.
  entryPoints: ['dist/src/server/main.js', 'dist/src/server/openapi.js'],
  outdir: 'dist/server',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // Native (better-sqlite3), loaded only for their backend (pg), or serving files from their own
  // package folder (@fastify/swagger-ui): used from node_modules as they are.
  external: ['better-sqlite3', 'pg', 'pg-cursor', '@fastify/swagger-ui'],
  // Bundled CommonJS packages call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __leadscoreRequire } from 'node:module'; const require = __leadscoreRequire(import.meta.url);" },
});
// The scoring and training commands the same way, into dist/cli/ (the suite runs them as
// commands; a bundled start took 0.31 s against 0.36 s).
rmSync('dist/cli', { recursive: true, force: true });
await build({
  entryPoints: ['dist/scripts/score.js', 'dist/scripts/train.js'],
  outdir: 'dist/cli',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  external: ['better-sqlite3', 'pg', 'pg-cursor'],
  banner: { js: "import { createRequire as __leadscoreRequire } from 'node:module'; const require = __leadscoreRequire(import.meta.url);" },
});
// The dashboard route finds its files at ../dashboard/ from its own module: dist/src/server/dashboard
// for the compiled files, dist/dashboard for the bundle.
cpSync('src/server/dashboard', 'dist/src/server/dashboard', { recursive: true });
cpSync('src/server/dashboard', 'dist/dashboard', { recursive: true });

// The server as production runs it: the compiled service (dist/src) bundled by esbuild into
// dist/server/, one file plus a chunk per part loaded on demand (the HTTP stack, each store
// backend). Node 20 has no compile cache, and resolving, reading and compiling some 800 module
// files was most of a cold start: bundled, a start to "listening" took 0.82× the time (npm run
// bench reports cold start). The dashboard's own files go beside it, where its route looks.
import { cpSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

/** Bundles `entryPoints` into a fresh `outdir`, a chunk per part they load on demand. */
async function bundle(entryPoints, outdir, external) {
  rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints,
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
    external,
    // Bundled CommonJS packages call require(); an ES module has none of its own.
    banner: { js: "import { createRequire as __leadscoreRequire } from 'node:module'; const require = __leadscoreRequire(import.meta.url);" },
  });
}

// Native (better-sqlite3), loaded only for their backend (pg): used from node_modules as they are.
const native = ['better-sqlite3', 'pg', 'pg-cursor'];
// openapi.js: the document as the service generates it, for the suite's check against openapi.yaml.
// @fastify/swagger-ui serves files from its own package folder, so it stays in node_modules too.
await bundle(['dist/src/server/main.js', 'dist/src/server/openapi.js'], 'dist/server', [...native, '@fastify/swagger-ui']);
// The scoring and training commands the same way, into dist/cli/ (the suite runs them as
// commands; a bundled start took 0.31 s against 0.36 s).
await bundle(['dist/scripts/score.js', 'dist/scripts/train.js'], 'dist/cli', native);
// The dashboard route finds its files at ../dashboard/ from its own module: dist/src/server/dashboard
// for the compiled files, dist/dashboard for the bundle.
cpSync('src/server/dashboard', 'dist/src/server/dashboard', { recursive: true });
cpSync('src/server/dashboard', 'dist/dashboard', { recursive: true });

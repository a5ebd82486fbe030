// The server as production runs it: the compiled service (dist/src) bundled by esbuild into
// dist/server/, one file plus a chunk per part loaded on demand (the HTTP stack, each store
// backend). Node 20 has no compile cache, and resolving, reading and compiling some 800 module
// files was most of a cold start: bundled, a start to "listening" took 0.82× the time (npm run
// bench reports cold start). The dashboard's own files go beside it, where its route looks.
import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

/**
 * zod's namespace carries every language's error messages (63 locales, 360 kB of the bundle that
 * every start read and compiled); the service speaks English, the one zod configures itself with.
 */
const englishOnly = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => (/[\\/]zod[\\/]/.test(args.importer) ? { path: path.join(args.resolveDir, '../locales/index.js'), namespace: 'zod-locales' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({ contents: 'export { default as en } from "./en.js";', resolveDir: path.dirname(args.path) }));
  },
};

/** Bundles `entryPoints` into a fresh `outdir`, a chunk per part they load on demand. */
async function bundle(entryPoints, outdir, external) {
  rmSync(outdir, { recursive: true, force: true });
  await build({
    plugins: [englishOnly],
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
    // Bundled CommonJS packages call require() and read files beside them by __dirname; an ES
    // module has neither. Every chunk sits in outdir, so __dirname is outdir for all of them.
    banner: {
      js: "import { createRequire as __leadscoreRequire } from 'node:module'; import { fileURLToPath as __leadscorePath } from 'node:url'; const require = __leadscoreRequire(import.meta.url); const __dirname = __leadscorePath(new URL('.', import.meta.url));",
    },
  });
}

// Native (better-sqlite3), loaded only for their backend (pg): used from node_modules as they are.
const native = ['better-sqlite3', 'pg', 'pg-cursor'];
// openapi.js: the document as the service generates it, for the suite's check against openapi.yaml.
// @fastify/swagger-ui is bundled too: loaded from node_modules, its code and @fastify/static's took
// ~85 ms of a 710 ms start. It serves Swagger UI's files from __dirname/../static and reads its
// logo from __dirname/static, so they are copied there; a start to "listening" then took 0.87× the
// time (median of 30 starts each).
// Fastify loads its Ajv validator and fast-json-stringify serializer only when it is given no
// compilers (the service gives it zod's), and light-my-request only for inject(): left out of the
// bundle (600 kB that each start read and compiled), from node_modules should anything ask for them.
const unusedByTheServer = ['@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler', 'light-my-request'];
await bundle(['dist/src/server/main.js', 'dist/src/server/openapi.js'], 'dist/server', [...native, ...unusedByTheServer]);
rmSync('dist/static', { recursive: true, force: true }); // no file of an older Swagger UI left behind
cpSync('node_modules/@fastify/swagger-ui/static', 'dist/static', { recursive: true });
cpSync('node_modules/@fastify/swagger-ui/static/logo.svg', 'dist/server/static/logo.svg');
// The scoring and training commands the same way, into dist/cli/ (the suite runs them as
// commands; a bundled start took 0.31 s against 0.36 s).
await bundle(['dist/scripts/score.js', 'dist/scripts/train.js'], 'dist/cli', native);
// The dashboard route finds its files at ../dashboard/ from its own module: dist/src/server/dashboard
// for the compiled files, dist/dashboard for the bundle.
cpSync('src/server/dashboard', 'dist/src/server/dashboard', { recursive: true });
cpSync('src/server/dashboard', 'dist/dashboard', { recursive: true });

// The server as production runs it: the compiled service (dist/src) bundled by esbuild into one
// CommonJS script, dist/server/server.cjs, started by dist/server/main.js (src/server/launch.ts),
// which hands V8 the code it compiled for that script the last time. Node 20 has no compile cache,
// and resolving, reading and compiling some 800 module files was most of a cold start: bundled, a
// start to "listening" took 0.82× the time (npm run bench reports cold start); with the code cache,
// a start to the first 200 on /health 0.84× that again. The dashboard's own files go beside it, where its
// route looks.
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
    // module has neither. Every chunk sits in outdir, so __dirname is outdir for all of them. No
    // global is named here: a bundled module's top-level `var` shares the chunk's scope, and
    // vega-lite's `var URL = "url"` made `new URL` throw, so the report chunk never loaded.
    banner: {
      js: "import { createRequire as __leadscoreRequire } from 'node:module'; import { dirname as __leadscoreDirname } from 'node:path'; import { fileURLToPath as __leadscorePath } from 'node:url'; const require = __leadscoreRequire(import.meta.url); const __dirname = __leadscoreDirname(__leadscorePath(import.meta.url));",
    },
  });
}

/**
 * The server as one CommonJS script: V8 caches compiled code for a script, not for ES modules, on
 * Node 20. What is loaded on demand (the HTTP stack, each store backend) is still run on demand;
 * its code is only read and pre-parsed with the rest. The service's own modules ask for their
 * file's URL, which a CommonJS script has as __filename.
 */
async function bundleScript(entryPoint, outfile, external) {
  const { metafile } = await build({
    plugins: [englishOnly],
    entryPoints: [entryPoint],
    outfile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
    external,
    define: { 'import.meta.url': '__leadscoreUrl' },
    // "use strict" first: after the banner's statement, esbuild's own would no longer be a directive
    // and the bundle's top scope would run sloppy, where the ES modules it was made from were strict.
    banner: { js: "\"use strict\"; const __leadscoreUrl = require('node:url').pathToFileURL(__filename).href;" },
    metafile: true,
  });
  // A script run from V8's cache has no loader for import(): a package it imports that way fails
  // only when that code runs. Import it statically from a module that is itself loaded on demand.
  const dynamic = Object.values(metafile.outputs).flatMap((output) => output.imports.filter((i) => i.kind === 'dynamic-import' && i.external).map((i) => i.path));
  if (dynamic.length > 0) throw new Error(`${outfile}: import() of ${dynamic.join(', ')} cannot run in a cached script`);
}

// Native (better-sqlite3), loaded only for their backend (pg): used from node_modules as they are.
const native = ['better-sqlite3', 'pg', 'pg-cursor'];
// @fastify/swagger-ui is bundled too: loaded from node_modules, its code and @fastify/static's took
// ~85 ms of a 710 ms start. It serves Swagger UI's files from __dirname/../static and reads its
// logo from __dirname/static, so they are copied there; a start to "listening" then took 0.87× the
// time (median of 30 starts each).
// Fastify loads its Ajv validator and fast-json-stringify serializer only when it is given no
// compilers (the service gives it zod's), and light-my-request only for inject(): left out of the
// bundle (600 kB that each start read and compiled), from node_modules should anything ask for them.
const unusedByTheServer = ['@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler', 'light-my-request'];
await bundle(['dist/src/server/openapi.js'], 'dist/server', [...native, ...unusedByTheServer]); // the document as the service generates it, for the suite's check against openapi.yaml
await bundleScript('dist/src/server/main.js', 'dist/server/server.cjs', [...native, ...unusedByTheServer]);
// The entry that runs it with V8's code cache, and the image build's warm-up that writes the cache.
for (const [from, to] of [['launch.js', 'main.js'], ['warm-up.js', 'warm-up.js']]) {
  writeFileSync(`dist/server/${to}`, readFileSync(`dist/src/server/${from}`, 'utf8').replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n'));
}
rmSync('dist/static', { recursive: true, force: true }); // no file of an older Swagger UI left behind
cpSync('node_modules/@fastify/swagger-ui/static', 'dist/static', { recursive: true });
cpSync('node_modules/@fastify/swagger-ui/static/logo.svg', 'dist/server/static/logo.svg');
// The scoring, training and backup commands the same way, into dist/cli/ (the suite runs them as
// commands; a bundled start took 0.31 s against 0.36 s).
await bundle(['dist/scripts/score.js', 'dist/scripts/train.js', 'dist/scripts/backup.js'], 'dist/cli', native);
// The dashboard route finds its files at ../dashboard/ from its own module: dist/src/server/dashboard
// for the compiled files, dist/dashboard for the bundle.
cpSync('src/server/dashboard', 'dist/src/server/dashboard', { recursive: true });
cpSync('src/server/dashboard', 'dist/dashboard', { recursive: true });

// The process entry as production runs it (dist/server/main.js, copied here by scripts/bundle.mjs):
// it runs the server, one CommonJS script beside it (server.cjs), with the code V8 compiled for that
// same script before. Node 20 has no compile cache of its own (module.enableCompileCache came in 22),
// and compiling the 2.5 MB bundle was a fifth of a cold start: with the cache a start to the first
// 200 on /health took 0.81× the time of the same bundle compiled afresh (medians of 12 alternating
// starts). The v8-compile-cache package keeps only what V8 compiles before the script runs, which in
// a bundle is little more than its wrappers: 0.94× in the same comparison. This keeps what it had
// compiled by the end of a run: start-up, routes, scoring.
import cluster from 'node:cluster';
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const bundle = fileURLToPath(new URL('server.cjs', import.meta.url));
const cacheFile = `${bundle}.cache`;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * What the cache was made for. V8 refuses code cached by another version or with other flags, but
 * checks the script only by its length: a bundle changed in place, even to the same size and time
 * (cp -p, rsync -t, tar), would have run the old bundle's code. So the key is its sha256 (~2 ms).
 */
function cacheKey(source: Buffer): string {
  return `leadscore code cache: ${process.version} ${process.arch} ${sha256(source)}`;
}

/**
 * The cached code if it was made for this bundle and is whole. The header ends with the code's
 * sha256 (a millisecond): V8 checks its own header but not the code, and code damaged on disk
 * stopped the process with a V8 trap (SIGTRAP) instead of being refused.
 */
function readCache(key: string): Buffer | undefined {
  let file: Buffer;
  try {
    file = readFileSync(cacheFile);
  } catch {
    return undefined; // none yet
  }
  const end = file.indexOf(10) + 1;
  const code = file.subarray(end);
  return file.toString('latin1', 0, end) === `${key} ${sha256(code)}\n` ? code : undefined;
}

/** Best effort: a read-only image (built without one) or a full disk only means the next start compiles. */
function writeCache(key: string, data: Buffer): void {
  const temporary = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, Buffer.concat([Buffer.from(`${key} ${sha256(data)}\n`, 'latin1'), data]));
    renameSync(temporary, cacheFile); // whole or not at all, whichever process writes last
  } catch {
    try {
      rmSync(temporary, { force: true }); // no partial file left behind
    } catch {
      // the folder cannot be written at all
    }
  }
}

const source = readFileSync(bundle);
const key = cacheKey(source);
const cachedData = readCache(key);
// The same wrapper Node puts around a CommonJS module, so lines and columns in stack traces match the file.
const script = new Script(`(function (exports, require, module, __filename, __dirname) { ${source.toString('utf8')}\n})`, {
  filename: bundle,
  cachedData,
});

if (cachedData === undefined || script.cachedDataRejected) {
  // Written by a run that ended well, and not by a cluster's primary, which never loads the HTTP stack.
  let forked = false;
  cluster.on('fork', () => (forked = true));
  process.once('exit', (code) => {
    if (code === 0 && !forked) writeCache(key, script.createCachedData());
  });
}

const module = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));

// The production entry keeps V8's compiled code for the server bundle beside it: written by a run that
// ends well (the image build's warm-up is one), used as it is by the next start, and replaced when it
// is not this bundle's or is damaged.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnServer, startServer } from './process.js';

const run = promisify(execFile);

const root = path.resolve(import.meta.dirname, '../..');
// A copy of the built entry and bundle in a folder of their own (the suite's other servers share
// dist/server and its cache), inside the project so that the bundle finds node_modules as it does there.
mkdirSync(path.join(root, '.tmp'), { recursive: true });
const dir = mkdtempSync(path.join(root, '.tmp', 'launch-'));
const server = path.join(dir, 'server');
mkdirSync(server);
for (const file of ['main.js', 'server.cjs', 'warm-up.js']) cpSync(path.join(root, 'dist/server', file), path.join(server, file));
symlinkSync(path.join(root, 'dist/server/static'), path.join(server, 'static'));
for (const folder of ['static', 'dashboard']) symlinkSync(path.join(root, 'dist', folder), path.join(dir, folder));
const entry = path.join(server, 'main.js');
const cache = path.join(server, 'server.cjs.cache');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const header = (file: string) => {
  const bytes = readFileSync(file);
  return bytes.toString('latin1', 0, bytes.indexOf(10) + 1);
};
const bundleSha = createHash('sha256').update(readFileSync(path.join(server, 'server.cjs'))).digest('hex');
const thisBundle = new RegExp(`^leadscore code cache: ${process.version} ${process.arch} ${bundleSha} [0-9a-f]{64}\\n$`);

/** Starts the copy, checks it serves, stops it with SIGTERM and returns its exit code. */
async function serveOnce(): Promise<number | null> {
  const running = await startServer({}, 1, entry);
  expect((await fetch(`http://127.0.0.1:${running.port}/health`)).status).toBe(200);
  running.child.kill('SIGTERM');
  return running.exited;
}

describe('the production entry', { timeout: 60_000 }, () => {
  it("keeps V8's code for the bundle: written by a run that ended well, as the image's warm-up, then used as it is, and replaced when stale or damaged", async () => {
    // A start that fails writes nothing: its code would be the little it ran before failing.
    const failed = spawnServer({ MAX_BATCH: 'lots' }, entry);
    expect(await failed.exited).toBe(1);
    expect(readdirSync(server).sort()).toEqual(['main.js', 'server.cjs', 'static', 'warm-up.js']);

    // A cache made for another build of the bundle is not used. The image's build step (the
    // Dockerfile's RUN node dist/server/warm-up.js) starts the service, scores a lead and stops it
    // cleanly, which writes this bundle's.
    writeFileSync(cache, `leadscore code cache: ${process.version} ${process.arch} ${'0'.repeat(64)} ${'0'.repeat(64)}\nnot code`);
    const { stdout } = await run(process.execPath, [path.join(server, 'warm-up.js')], { env: { ...process.env, MAX_EVENT_LOOP_DELAY_MS: '0' } });
    expect(stdout).toMatch(/^warm-up: the service started, scored a lead \(\{"mql_id":"warm-up","probability":0\.\d+/);
    expect(header(cache)).toMatch(thisBundle);
    expect(statSync(cache).size).toBeGreaterThan(100_000);

    // The next start runs with it: V8 accepted it, so it is not written again.
    const written = statSync(cache);
    expect(await serveOnce()).toBe(0);
    expect(statSync(cache).ino).toBe(written.ino);
    expect(statSync(cache).mtimeMs).toBe(written.mtimeMs);

    // Damaged on disk, it is not used: the server starts all the same (damaged code used to stop it
    // with a V8 trap, SIGTRAP) and writes a good one.
    const damaged = readFileSync(cache);
    damaged.fill(0x2a, damaged.indexOf(10) + 200_000, damaged.indexOf(10) + 204_000);
    writeFileSync(cache, damaged);
    const before = statSync(cache).ino;
    expect(await serveOnce()).toBe(0);
    expect(statSync(cache).ino).not.toBe(before);
    expect(header(cache)).toMatch(thisBundle);
    expect(readdirSync(server).filter((name) => name.endsWith('.tmp'))).toEqual([]);

    // A bundle changed in place to the same size and time (cp -p, rsync -t, tar) runs its own code,
    // not the code cached for the bundle it replaced.
    const bundleFile = path.join(server, 'server.cjs');
    const { mtime } = statSync(bundleFile);
    writeFileSync(bundleFile, readFileSync(bundleFile, 'utf8').replace('invalid configuration', 'INVALID configuration'));
    utimesSync(bundleFile, mtime, mtime);
    const changed = spawnServer({ MAX_BATCH: 'lots' }, entry);
    expect(await changed.exited).toBe(1);
    expect(changed.stderr()).toMatch(/^leadscore: INVALID configuration: MAX_BATCH/);
  });
});

// Starts the real process entry, compiled as production runs it (dist/server/main.js, built by
// test/setup/build.ts), as a child, for start-up and shutdown tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { saveArtifact } from '../../src/model/artifact.js';
import { trainedFixture } from '../model/helpers.js';

// A test that fails or times out must not leave its server (or a cluster's workers) running.
const children = new Set<ChildProcess>();
afterAll(async () => {
  const exits = [...children].map((child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once('exit', resolve))));
  for (const child of children) child.kill('SIGTERM');
  const forced = setTimeout(() => children.forEach((child) => child.kill('SIGKILL')), 3000);
  await Promise.all(exits);
  clearTimeout(forced);
  children.clear();
});

export interface RunningServer {
  child: ChildProcess;
  port: number;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

export function spawnServer(env: Record<string, string>, entry = 'dist/server/main.js'): { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> } {
  // TypeScript entries run through tsx; a compiled one (the image's command) runs on plain node.
  const child = spawn(process.execPath, entry.endsWith('.ts') ? ['--import', 'tsx', entry] : [entry], {
    // No load shedding: the suite runs many processes on two cores, where a process that has just
    // started lags well past a second and would shed the test's own requests (hardening.test.ts
    // tests the shedding itself). No store unless a test asks for one.
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', SHUTDOWN_DRAIN_MS: '0', STORE_URL: 'none', MAX_EVENT_LOOP_DELAY_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk) => (out += chunk));
  child.stderr!.on('data', (chunk) => (err += chunk));
  // 'close', not 'exit': by then stdout and stderr have been read to their end, so a test reading
  // them once the process has exited sees its last lines.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Resolves with the port once the server logs that it listens; rejects if it exits first. */
export async function startServer(env: Record<string, string>, expectedListeners = 1, entry?: string): Promise<RunningServer> {
  const started = spawnServer(env, entry);
  const ports = () => [...started.stdout().matchAll(/listening at http:\/\/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
  await waitForOutput(started, () => ports().length >= expectedListeners, 'the server listening', 45_000);
  return { ...started, port: ports()[0]! };
}

/**
 * The pids of every worker that has loaded its model so far, in the order they did, from the
 * server's log (a pattern, not JSON.parse: the last line may have arrived only in part).
 */
export const workerPids = (server: Pick<RunningServer, 'stdout'>): number[] => [...new Set([...server.stdout().matchAll(/"pid":(\d+)[^\n]*"msg":"model loaded"/g)].map((m) => Number(m[1])))];

/**
 * Resolves once `ready()` holds, checked as each chunk of the server's output (stdout or stderr)
 * arrives (no polling: a loop of timers or setImmediate would take a core from the processes being
 * waited on); rejects if the server exits first, or if `what` has not happened within `withinMs`.
 */
export function waitForOutput(server: Pick<RunningServer, 'child' | 'stderr' | 'exited'>, ready: () => boolean, what = 'the awaited output', withinMs = 30_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const streams = [server.child.stdout!, server.child.stderr!];
    const settle = (error?: Error) => {
      clearTimeout(timer);
      for (const stream of streams) stream.off('data', check);
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => settle(new Error(`${what}: not seen within ${withinMs} ms; stderr: ${server.stderr()}`)), withinMs);
    const check = () => {
      if (ready()) settle();
    };
    for (const stream of streams) stream.on('data', check);
    void server.exited.then((code) => settle(new Error(`server exited with ${code}: ${server.stderr()}`)));
    check();
  });
}

/** The fixture model saved in a folder of its own, for a process to load by MODEL_PATH. */
export async function savedFixture(): Promise<string> {
  return saveArtifact(trainedFixture().outcome.artifact, mkdtempSync(path.join(tmpdir(), 'leadscore-main-')));
}

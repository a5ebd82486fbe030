// Killing the process (SIGKILL) in the middle of a stream of batches loses no acknowledged batch and leaves no partial one.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { testChild } from '../setup/children.js';
import { openStore } from '../../src/store/index.js';

const LEADS_PER_BATCH = 200;
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('keeps every batch two killed processes acknowledged, whole, no part of any other, and one current score per lead', async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'leadscore-crash-'));
  const file = path.join(dir, 'store.db');
  // Two processes on one file, as with WORKERS=2, each with two writers, rescoring the same leads.
  const writers = ['w0', 'w1'].map((name) => startWriter(file, name));
  await Promise.all(writers.map((writer) => writer.ready));
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      // killed while four writers are mid-stream: some batch is being written at this moment. Both
      // processes must have had batches acknowledged (one can hold the file's write lock for a while
      // on a loaded machine, so a total alone could stop before the other wrote anything).
      if (writers.every((writer) => writer.acknowledged.size >= 3) && writers.reduce((sum, writer) => sum + writer.acknowledged.size, 0) >= 30) {
        for (const writer of writers) writer.child.kill('SIGKILL');
        resolve();
      }
    };
    for (const writer of writers) {
      writer.child.stdout!.on('data', check);
      writer.exited.then((signal) => signal !== 'SIGKILL' && reject(new Error(`a writer exited before it was killed: ${writer.stderr()}`)));
    }
  });
  for (const writer of writers) expect(await writer.exited).toBe('SIGKILL');

  // Opened as a fresh process would after the crash: SQLite replays its WAL.
  const db = new Database(file);
  const counts = new Map((db.prepare('SELECT request_id, count(*) AS n FROM scores GROUP BY request_id').all() as { request_id: string; n: number }[]).map((r) => [r.request_id, r.n]));
  const currents = db.prepare('SELECT mql_id, sum(is_current) AS current, max(id) AS newest, max(CASE WHEN is_current = 1 THEN id END) AS flagged FROM scores GROUP BY mql_id').all() as { mql_id: string; current: number; newest: number; flagged: number }[];
  db.close();
  for (const writer of writers) {
    expect(writer.acknowledged.size).toBeGreaterThan(0);
    for (const batch of writer.acknowledged) expect(counts.get(`${writer.name}-${batch}`), `${writer.name} batch ${batch} was acknowledged`).toBe(LEADS_PER_BATCH);
  }
  for (const [requestId, n] of counts) expect(n, `${requestId} is whole`).toBe(LEADS_PER_BATCH);
  const wrong = currents.filter((lead) => lead.current !== 1 || lead.flagged !== lead.newest);
  expect(wrong, 'each lead has exactly one current score, its newest').toEqual([]);

  const store = (await openStore({ kind: 'sqlite', path: file, synchronous: 'normal' }))!;
  let served = 0;
  for await (const chunk of store.exportPredictions({})) served += chunk.length;
  expect(served).toBe(currents.length);
  await store.close();
});

function startWriter(file: string, name: string) {
  const child = spawn(process.execPath, [testChild('crash-writer'), file, String(LEADS_PER_BATCH), '2', name], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const acknowledged = new Set<number>();
  let buffered = '';
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) (line === 'ready' ? markReady() : acknowledged.add(Number(line)));
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  exited.then(markReady);
  return { name, child, ready, acknowledged, exited, stderr: () => stderr };
}

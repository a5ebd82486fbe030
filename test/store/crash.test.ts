// Killing the process (SIGKILL) in the middle of a stream of batches loses no acknowledged batch and leaves no partial one.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';

const LEADS_PER_BATCH = 400;
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('keeps every batch the killed process acknowledged, whole, and no part of any other', async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'leadscore-crash-'));
  const file = path.join(dir, 'store.db');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'crash-writer.ts'), file, String(LEADS_PER_BATCH), '4'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const acknowledged = new Set<number>();
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  let buffered = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (line !== 'ready') acknowledged.add(Number(line));
      // killed while four writers are mid-stream: some batch is being written at this moment
      if (acknowledged.size >= 60) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    exited.then(() => reject(new Error(`the writer exited before it was killed: ${stderr}`)));
  });
  expect(await exited).toBe('SIGKILL');
  for (const line of buffered.split('\n')) if (/^\d+$/.test(line)) acknowledged.add(Number(line));

  // Opened as a fresh process would after the crash: SQLite replays its WAL.
  const db = new Database(file);
  const counts = new Map((db.prepare('SELECT request_id, count(*) AS n FROM scores GROUP BY request_id').all() as { request_id: string; n: number }[]).map((r) => [r.request_id, r.n]));
  db.close();
  for (const batch of acknowledged) expect(counts.get(`batch-${batch}`), `batch ${batch} was acknowledged`).toBe(LEADS_PER_BATCH);
  for (const [requestId, n] of counts) expect(n, `${requestId} is whole`).toBe(LEADS_PER_BATCH);

  const store = (await openStore({ kind: 'sqlite', path: file, synchronous: 'normal' }))!;
  let served = 0;
  for await (const chunk of store.exportPredictions({})) served += chunk.length;
  expect(served).toBe(counts.size * LEADS_PER_BATCH);
  await store.close();
});

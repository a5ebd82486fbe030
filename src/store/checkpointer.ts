// Copies an SQLite store's write-ahead log back into its file from a thread of its own, so that the
// thread answering requests never waits for a checkpoint's writes and syncs.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/*
 * The thread's whole program, run as CommonJS (`eval`): a file of its own would have to be found
 * beside whichever bundle or source tree runs it. PASSIVE copies what it can without waiting for the
 * writer or any reader, so it never holds a request up; a frame still in use is copied next time.
 */
const PROGRAM = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
let db = null;
parentPort.on('message', (message) => {
  if (message === 'close') {
    db?.close();
    parentPort.close();
    return;
  }
  try {
    if (!db) {
      db = new Database(workerData.file, { fileMustExist: true, timeout: 0 });
      db.pragma('synchronous = ' + workerData.synchronous);
    }
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // A file it cannot open or checkpoint now: a new connection next time, and the writer's own
    // automatic checkpoint bounds the log meanwhile.
    try { db?.close(); } catch {}
    db = null;
  }
  parentPort.postMessage('done');
});
`;

export class Checkpointer {
  private worker: Worker | null = null;
  private running: Promise<void> | null = null;
  private closed = false;
  /** Every checkpoint run so far, for the store's tests. */
  runs = 0;

  constructor(
    private readonly file: string,
    private readonly synchronous: 'normal' | 'full',
  ) {}

  /**
   * Starts a checkpoint unless one is running; says whether it did. The thread starts on the first
   * one, so a store that is written little never has one.
   */
  request(): boolean {
    if (this.running || this.closed) return false;
    const worker = (this.worker ??= this.start());
    this.running = new Promise<void>((resolve) => {
      // Done, failed or the thread gone: the next request starts the next one either way.
      const settle = () => {
        worker.off('message', settle);
        worker.off('exit', settle);
        worker.unref();
        this.running = null;
        this.runs++;
        resolve();
      };
      worker.once('message', settle);
      worker.once('exit', settle);
      // Held while it works: a process with nothing else to do waits for it rather than exiting with
      // the store's close still waiting (exit code 13 in a script whose last step was that close).
      worker.ref();
      worker.postMessage('run');
    });
    return true;
  }

  /** Resolves once no checkpoint is running. */
  async idle(): Promise<void> {
    await this.running;
  }

  /** Waits for a running checkpoint, then stops the thread (its connection closed before the writer's). */
  async close(): Promise<void> {
    this.closed = true;
    await this.running;
    const worker = this.worker;
    this.worker = null;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.ref();
    worker.postMessage('close');
    await exited;
  }

  private start(): Worker {
    const worker = new Worker(PROGRAM, {
      eval: true,
      workerData: { file: this.file, synchronous: this.synchronous.toUpperCase(), driver: createRequire(import.meta.url).resolve('better-sqlite3') },
    });
    worker.unref(); // idle, never what keeps a process alive
    // A thread that fails to start or dies is replaced at the next request; the writer's own
    // automatic checkpoint bounds the log meanwhile.
    worker.on('error', () => {
      if (this.worker === worker) this.worker = null;
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = null;
    });
    return worker;
  }
}

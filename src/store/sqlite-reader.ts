// Runs an SQLite store's reads on a thread of its own. better-sqlite3 runs a query on the thread that
// calls it, start to finish: in a store of a million scores a daily summary held the thread that
// answers requests for 1.0–1.6 s and a page of converted leads for 0.3–0.5 s, and the dashboard asks
// for a summary every minute. Scoring, /health and the metrics waited meanwhile.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { StoreUnavailableError } from './errors.js';

/*
 * The thread's whole program, run as CommonJS (`eval`), as the checkpointer's is. A read-only
 * connection in WAL mode reads the last commit without waiting for the writer, and a commit is
 * made before its request is answered: a read that follows a response sees its scores. A query
 * asked for in slices posts its rows `slice` at a time, so neither thread builds one large message,
 * and stays at most one slice ahead of the thread taking them (`taken` counts the slices taken):
 * Node hands a port's whole backlog over in one turn of the event loop, and a million scores'
 * slices arriving faster than they were taken held it for 160 ms. After any error the connection is opened afresh for the next query (a file replaced or made
 * readable again).
 */
const PROGRAM = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const taken = new Int32Array(workerData.taken);
let db = null;
const statements = new Map();
parentPort.on('message', (message) => {
  if (message === 'close') {
    try { db?.close(); } catch {}
    parentPort.close();
    return;
  }
  const { id, text, params, slice } = message;
  try {
    if (!db) db = new Database(workerData.file, { readonly: true, fileMustExist: true, timeout: 5000 });
    let statement = statements.get(text);
    if (!statement) {
      statement = db.prepare(text).raw();
      statements.set(text, statement);
      if (statements.size > 200) statements.delete(statements.keys().next().value);
    }
    if (!slice) {
      parentPort.postMessage({ id, rows: statement.all(...params) });
      return;
    }
    let rows = [];
    let sent = 0;
    const base = Atomics.load(taken, 0);
    for (const row of statement.iterate(...params)) {
      rows.push(row);
      if (rows.length === slice) {
        parentPort.postMessage({ id, rows, more: true });
        rows = [];
        sent++;
        while (Atomics.load(taken, 0) - base < sent - 1) Atomics.wait(taken, 0, Atomics.load(taken, 0), 1000);
      }
    }
    parentPort.postMessage({ id, rows });
  } catch (error) {
    try { db?.close(); } catch {}
    db = null;
    statements.clear();
    parentPort.postMessage({ id, error: { message: String(error?.message ?? error), code: error?.code } });
  }
});
`;

interface Pending {
  resolve: (rows: unknown[][]) => void;
  reject: (error: Error) => void;
  /** For a query read in slices: every slice but the last. */
  onSlice?: (rows: unknown[][]) => void;
}

type Reply = { id: number; rows: unknown[][]; more?: true } | { id: number; error: { message: string; code?: string } };

/** An error the thread reported, with SQLite's code, for the store to judge like its own. */
export class ReaderError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export class SqliteReader {
  private worker: Worker | null = null;
  /** Slices taken so far, shared with the thread, which waits on it (see PROGRAM). */
  private readonly taken = new Int32Array(new SharedArrayBuffer(4));
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;
  /** Queries answered so far, for the store's tests. */
  queries = 0;

  constructor(private readonly file: string) {}

  /** Every row of one query, in SQLite's raw (array) form. */
  all(text: string, params: readonly unknown[]): Promise<unknown[][]> {
    return this.ask(text, params, 0);
  }

  /** Every row of one query, handed to `onSlice` `size` at a time as they come. */
  async each(text: string, params: readonly unknown[], size: number, onSlice: (rows: unknown[][]) => void): Promise<void> {
    onSlice(await this.ask(text, params, size, onSlice));
  }

  private ask(text: string, params: readonly unknown[], slice: number, onSlice?: (rows: unknown[][]) => void): Promise<unknown[][]> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('the store is closed'));
    let worker: Worker;
    try {
      worker = this.worker ??= this.start();
    } catch (error) {
      return Promise.reject(new StoreUnavailableError(`the store's reader thread could not start: ${(error as Error).message}`, { cause: error, retryAfterSeconds: 5 }));
    }
    const id = this.nextId++;
    return new Promise<unknown[][]>((resolve, reject) => {
      // Held while a query runs, so a script awaiting one does not exit under it; idle, it keeps nothing alive.
      if (this.pending.size === 0) worker.ref();
      this.pending.set(id, { resolve, reject, onSlice });
      worker.postMessage({ id, text, params, slice });
    });
  }

  private settle(id: number): Pending | undefined {
    const pending = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker?.unref();
    return pending;
  }

  private start(): Worker {
    const worker = new Worker(PROGRAM, { eval: true, workerData: { file: this.file, taken: this.taken.buffer, driver: createRequire(import.meta.url).resolve('better-sqlite3') } });
    worker.unref();
    worker.on('message', (reply: Reply) => {
      if ('error' in reply) {
        this.settle(reply.id)?.reject(new ReaderError(reply.error.message, reply.error.code));
      } else if (reply.more) {
        this.pending.get(reply.id)?.onSlice?.(reply.rows);
        Atomics.add(this.taken, 0, 1);
        Atomics.notify(this.taken, 0);
      } else {
        this.queries++;
        this.settle(reply.id)?.resolve(reply.rows);
      }
    });
    // A thread that dies (out of memory, say) fails what it was asked; the next query starts another.
    const lost = (why: string) => {
      if (this.worker !== worker) return;
      this.worker = null;
      const failed = [...this.pending.values()];
      this.pending.clear();
      for (const { reject } of failed) reject(new StoreUnavailableError(`the store's reader thread stopped: ${why}`, { retryAfterSeconds: 5 }));
    };
    worker.on('error', (error) => lost(error.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    return worker;
  }

  /**
   * Stops the thread after the queries it was asked (it answers its messages in order, 'close'
   * last); its connection closes before the writer's, which checkpoints the rest.
   */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.ref();
    worker.postMessage('close');
    await exited;
  }
}

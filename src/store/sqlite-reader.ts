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
 * made before its request is answered: a read that follows a response sees its scores. After any
 * error the connection is opened afresh for the next query (a file replaced or made readable again).
 *
 * A query asked for in slices posts its rows `slice` at a time, so neither thread builds one large
 * message, and stays at most one slice ahead of the thread taking them: Node hands a port's whole
 * backlog over in one turn of the event loop, and a million scores' slices arriving faster than
 * they were taken held it for 160 ms. `shared[0]` counts the slices taken; `shared[1]` names the
 * query to stop (its id + 1), which ends at its next slice with what it has.
 */
const PROGRAM = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const shared = new Int32Array(workerData.shared);
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
    const base = Atomics.load(shared, 0);
    const stopped = () => Atomics.load(shared, 1) === id + 1;
    for (const row of statement.iterate(...params)) {
      rows.push(row);
      if (rows.length < slice) continue;
      parentPort.postMessage({ id, rows, more: true });
      rows = [];
      sent++;
      while (Atomics.load(shared, 0) - base < sent - 1 && !stopped()) Atomics.wait(shared, 0, Atomics.load(shared, 0), 1000);
      if (stopped()) break;
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
  /** Slices taken so far, and the query to stop: shared with the thread, which waits on them (see PROGRAM). */
  private readonly shared = new Int32Array(new SharedArrayBuffer(8));
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;
  /** The paced query running (see slices()): its reader says when it has taken a slice, and close() stops it. */
  private paced: number | null = null;
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

  /**
   * Every row of one query, `size` at a time, read no faster than the caller takes them: an export
   * to a client that reads slowly holds one slice here and one on its way, not the table. A caller
   * that stops early stops the query at its next slice, and the thread is free for the next one.
   */
  async *slices(text: string, params: readonly unknown[], size: number): AsyncGenerator<unknown[][]> {
    const ready: { rows: unknown[][]; more: boolean }[] = [];
    let finished = false;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const signal = () => {
      wake?.();
      wake = undefined;
    };
    const id = this.nextId++;
    this.paced = id;
    const answered = this.ask(text, params, size, (rows) => (ready.push({ rows, more: true }), signal()), id).then(
      (rows) => (ready.push({ rows, more: false }), (finished = true), signal()),
      (error: Error) => ((failure = error), (finished = true), signal()),
    );
    try {
      for (;;) {
        // Closed under it (the store closing): an error, never an export that looks complete.
        if (this.closed) throw new StoreUnavailableError('the store was closed during the export', { retryAfterSeconds: 5 });
        const next = ready.shift();
        if (next) {
          if (next.more) this.take(); // the thread may read the one after while this one is used
          if (next.rows.length > 0) yield next.rows;
        } else if (failure) {
          throw failure;
        } else if (finished) {
          return;
        } else {
          await new Promise<void>((resolve) => (wake = resolve));
        }
      }
    } finally {
      if (!finished) {
        this.stopQuery(id);
        await answered;
      }
      this.paced = null;
    }
  }

  /** The thread stops waiting for the query's slices to be taken, and answers with what it has. */
  private stopQuery(id: number): void {
    Atomics.store(this.shared, 1, id + 1);
    Atomics.notify(this.shared, 0);
  }

  private take(): void {
    Atomics.add(this.shared, 0, 1);
    Atomics.notify(this.shared, 0);
  }

  private ask(text: string, params: readonly unknown[], slice: number, onSlice?: (rows: unknown[][]) => void, id = this.nextId++): Promise<unknown[][]> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('the store is closed'));
    let worker: Worker;
    try {
      worker = this.worker ??= this.start();
    } catch (error) {
      return Promise.reject(new StoreUnavailableError(`the store's reader thread could not start: ${(error as Error).message}`, { cause: error, retryAfterSeconds: 5 }));
    }
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
    // Not once closing: close() holds the thread until it has exited, or the process could end under it.
    if (this.pending.size === 0 && !this.closed) this.worker?.unref();
    return pending;
  }

  private start(): Worker {
    const worker = new Worker(PROGRAM, { eval: true, workerData: { file: this.file, shared: this.shared.buffer, driver: createRequire(import.meta.url).resolve('better-sqlite3') } });
    worker.unref();
    worker.on('message', (reply: Reply) => {
      if ('error' in reply) {
        this.settle(reply.id)?.reject(new ReaderError(reply.error.message, reply.error.code));
      } else if (reply.more) {
        this.pending.get(reply.id)?.onSlice?.(reply.rows);
        if (reply.id !== this.paced) this.take(); // a paced query's slices are taken by its reader
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
   * last), stopping a paced one first; its connection closes before the writer's, which
   * checkpoints the rest.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A paced query whose reader is not taking its slices (an export paused, or left unfinished) would hold the thread for good.
    if (this.paced !== null) this.stopQuery(this.paced);
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.ref();
    worker.postMessage('close');
    await exited;
  }
}

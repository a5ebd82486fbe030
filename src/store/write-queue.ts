// Groups concurrent writes into one transaction; each caller still settles on its own rows.
import { StoreUnavailableError } from './errors.js';

interface Entry<T> {
  item: T;
  size: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Writes what is queued in one go: `write` gets every item queued since the last flush and
 * answers, per item, null when it is committed or the error that kept it out. A flush starts
 * on the next turn of the event loop, so the requests handled in the same turn share a commit,
 * and at most `maxInFlight` flushes run at once (the rest queue up and ride the next one).
 */
export class WriteQueue<T> {
  private pending: Entry<T>[] = [];
  private inFlight = 0;
  private scheduled = false;
  private closed = false;
  private idle: (() => void)[] = [];

  constructor(
    private readonly write: (items: T[]) => Promise<(Error | null)[]>,
    private readonly options: { maxInFlight: number; maxSize: number },
  ) {}

  push(item: T, size: number): Promise<void> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('the store is closed'));
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ item, size, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once everything queued so far is settled; later pushes are refused. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.pending.length === 0 && this.inFlight === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.maxInFlight || this.pending.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    // Whole items only, at least one, up to maxSize rows: an oversized batch goes alone.
    let size = 0;
    let count = 0;
    while (count < this.pending.length && (count === 0 || size + this.pending[count]!.size <= this.options.maxSize)) size += this.pending[count++]!.size;
    const entries = this.pending.splice(0, count);
    this.inFlight++;
    try {
      const results = await this.write(entries.map((entry) => entry.item));
      entries.forEach((entry, i) => (results[i] ? entry.reject(results[i]!) : entry.resolve()));
    } catch (error) {
      for (const entry of entries) entry.reject(error as Error);
    } finally {
      this.inFlight--;
      this.schedule();
      if (this.pending.length === 0 && this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
    }
  }
}

// A fixed number of slots, taken in turn: a caller waits for one up to a limit, then gets a 503.
// The same contract as a pg pool's connection wait (connectionTimeoutMillis), for what SQLite
// runs on threads of its own.
import { StoreUnavailableError } from './errors.js';

export class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(
    size: number,
    private readonly waitMs: number,
    private readonly busy: () => string,
  ) {
    this.free = size;
  }

  /** Resolves with the function that gives the slot back, once one is free; rejects after waitMs. */
  take(): Promise<() => void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const granted = () => {
        clearTimeout(timer);
        resolve(this.releaser());
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(granted), 1);
        reject(new StoreUnavailableError(this.busy(), { retryAfterSeconds: 5, advice: this.busy() }));
      }, this.waitMs);
      this.waiting.push(granted);
    });
  }

  /** Gives the slot to the first caller waiting, or back to the free ones; once only. */
  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}

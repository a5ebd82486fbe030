// STORE_RETENTION_DAYS: deletes old scores in the background, in small steps, never in a request's way.
import type { Store } from './store.js';

export interface RetentionSchedule {
  /** One pass now (the timer's passes call the same); resolves with the scores deleted. */
  runNow(): Promise<number>;
  /** Stops the timer and waits for a pass under way. */
  stop(): Promise<void>;
}

export interface RetentionOptions {
  /** Scores older than this many days are deleted. */
  days: number;
  /** Time between passes. Default one hour. */
  intervalMs?: number;
  /** Time before the first pass, so it stays out of the way of start-up. Default 10 s. */
  firstPassAfterMs?: number;
  now?: () => number;
  onPass?: (deleted: number) => void;
  /** A pass that failed (the store was down): the next pass tries again. */
  onError?: (error: Error) => void;
}

export function scheduleRetention(store: Store, options: RetentionOptions): RetentionSchedule {
  if (!(options.days > 0)) throw new RangeError('retention days must be positive');
  const now = options.now ?? Date.now;
  let running: Promise<number> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;

  const runNow = (): Promise<number> => {
    // one pass at a time: a slow pass is not joined by the next tick's
    running ??= store
      .deleteScoresBefore(new Date(now() - options.days * 86_400_000))
      .then((deleted) => {
        options.onPass?.(deleted);
        return deleted;
      })
      .finally(() => {
        running = null;
      });
    return running;
  };

  const tick = (delay: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      runNow()
        .catch((error: Error) => options.onError?.(error))
        .finally(() => tick(options.intervalMs ?? 3_600_000));
    }, delay);
    timer.unref(); // never what keeps the process alive
  };
  tick(options.firstPassAfterMs ?? 10_000);

  return {
    runNow,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}

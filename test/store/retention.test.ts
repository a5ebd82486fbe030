import { afterEach, describe, expect, it, vi } from 'vitest';
import { scheduleRetention, StoreUnavailableError, type Store } from '../../src/store/index.js';

afterEach(() => {
  vi.useRealTimers();
});

/*
 * Only the timeouts the schedule uses are faked. The suite's files share their worker process, and
 * faking setImmediate too put whatever another file had left running on the fake clock, which
 * then ran it over and over as the clock was moved by minutes (up to 7 s for this one test).
 */
const fakeTimeouts = () => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });

function fakeStore(deleteScoresBefore: (cutoff: Date) => Promise<number>): Store {
  return { deleteScoresBefore } as unknown as Store;
}

describe('scheduleRetention', () => {
  it('deletes scores older than the retention days, first soon after start and then every interval', async () => {
    fakeTimeouts();
    const cutoffs: string[] = [];
    const passes: number[] = [];
    const now = Date.parse('2026-03-11T00:00:00Z');
    const schedule = scheduleRetention(fakeStore(async (cutoff) => (cutoffs.push(cutoff.toISOString()), 3)), { days: 30, now: () => now, firstPassAfterMs: 1000, intervalMs: 60_000, onPass: (n) => passes.push(n) });
    await vi.advanceTimersByTimeAsync(999);
    expect(cutoffs).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(cutoffs).toEqual(['2026-02-09T00:00:00.000Z']);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(passes).toEqual([3, 3, 3]);
    await schedule.stop();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(passes).toHaveLength(3);
  });

  it('runs one pass at a time, reports a failed pass and tries again at the next', async () => {
    fakeTimeouts();
    let release!: (n: number) => void;
    let calls = 0;
    const errors: Error[] = [];
    const store = fakeStore(() => {
      calls++;
      if (calls === 2) return Promise.reject(new StoreUnavailableError('down'));
      return new Promise<number>((resolve) => (release = resolve));
    });
    const schedule = scheduleRetention(store, { days: 1, firstPassAfterMs: 10, intervalMs: 10, onError: (e) => errors.push(e) });
    const first = schedule.runNow();
    expect(schedule.runNow()).toBe(first); // joined, not started twice
    release(5);
    expect(await first).toBe(5);
    await vi.advanceTimersByTimeAsync(10); // the timer's pass: the store is down
    expect(errors.map((e) => e.message)).toEqual(['down']);
    await vi.advanceTimersByTimeAsync(10); // and the next one runs again
    expect(calls).toBe(3);
    release(0);
    await schedule.stop();
  });

  it('refuses a retention that is not a positive number of days', () => {
    expect(() => scheduleRetention(fakeStore(async () => 0), { days: 0 })).toThrow(RangeError);
  });
});

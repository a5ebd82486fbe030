import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/store/index.js';
import { WriteQueue } from '../../src/store/write-queue.js';

describe('WriteQueue', () => {
  it('groups the writes of one event-loop turn and settles each caller on its own result', async () => {
    const groups: string[][] = [];
    const queue = new WriteQueue<string>(
      async (items) => {
        groups.push(items);
        return items.map((item) => (item === 'bad' ? new Error(`refused ${item}`) : null));
      },
      { maxInFlight: 1, maxSize: 100 },
    );
    const results = await Promise.allSettled(['a', 'bad', 'c'].map((item) => queue.push(item, 1)));
    expect(groups).toEqual([['a', 'bad', 'c']]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('refused bad');
  });

  it('queues behind a write in flight and sends what gathered as the next group, whole items up to maxSize', async () => {
    const groups: string[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const queue = new WriteQueue<string>(
      async (items) => {
        groups.push(items);
        if (groups.length === 1) await gate;
        return items.map(() => null);
      },
      { maxInFlight: 1, maxSize: 5 },
    );
    const first = queue.push('first', 1);
    await new Promise((resolve) => setImmediate(resolve)); // the first group is now in flight
    const later = [queue.push('b', 3), queue.push('c', 2), queue.push('d', 1), queue.push('huge', 50)];
    release();
    await Promise.all([first, ...later]);
    expect(groups).toEqual([['first'], ['b', 'c'], ['d'], ['huge']]);
  });

  it('rejects the whole group when the write itself fails, and takes nothing once closed', async () => {
    const queue = new WriteQueue<number>(
      async () => {
        throw new StoreUnavailableError('down');
      },
      { maxInFlight: 2, maxSize: 10 },
    );
    const results = await Promise.allSettled([queue.push(1, 1), queue.push(2, 1)]);
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof StoreUnavailableError)).toBe(true);
    await queue.close();
    await expect(queue.push(3, 1)).rejects.toThrow('the store is closed');
  });

  it('waits for writes under way before it closes', async () => {
    const done: number[] = [];
    const queue = new WriteQueue<number>(
      async (items) => {
        await new Promise((resolve) => setImmediate(resolve));
        done.push(...items);
        return items.map(() => null);
      },
      { maxInFlight: 1, maxSize: 10 },
    );
    const pushed = [queue.push(1, 1), queue.push(2, 1)];
    await queue.close();
    expect(done).toEqual([1, 2]);
    await Promise.all(pushed);
  });
});

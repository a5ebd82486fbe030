// A child process holding a SQLite store, driven over IPC, for tests that need another user or a process of its own.
import { openStore, type Store } from '../../src/store/index.js';

type Command = { op: 'write'; n: number } | { op: 'health' } | { op: 'close' };

const file = process.argv[2]!;
let store: Store;
try {
  store = (await openStore({ kind: 'sqlite', path: file, synchronous: 'normal' }))!;
  process.send!({ ready: true });
} catch (error) {
  process.send!({ ready: false, error: (error as Error).name, message: (error as Error).message });
  process.exit(0);
}

process.on('message', async (command: Command) => {
  try {
    if (command.op === 'write') {
      const leads = [{ mql_id: `lead-${command.n}`, first_contact_date: '2026-03-01', landing_page_id: 'p', origin: null, probability: 0.5, tier: 'A' as const }];
      await store.recordScores({ request_id: `r${command.n}`, scored_at: new Date(), model_version: 'm', leads });
      process.send!({ ok: true });
    } else if (command.op === 'health') {
      process.send!({ ok: true, health: await store.health() });
    } else {
      await store.close();
      process.send!({ ok: true });
      process.disconnect();
    }
  } catch (error) {
    process.send!({ ok: false, error: (error as Error).name, message: (error as Error).message, retryAfter: (error as { retryAfterSeconds?: number }).retryAfterSeconds });
  }
});

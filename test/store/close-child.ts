// A process whose last work is closing SQLite stores, with nothing else to keep it alive: each
// close must finish and the process exit 0, not leave the loop empty with a close still waiting.
// First while a checkpoint thread runs; then with an export whose reader stopped reading, closed
// twice at once.
import { existsSync } from 'node:fs';
import { SqliteStore } from '../../src/store/sqlite.js';

const leads = Array.from({ length: 20 }, (_, i) => ({ mql_id: `lead-${i}`, first_contact_date: '2026-03-01', landing_page_id: 'p', origin: null, probability: 0.5, tier: 'A' as const }));

const store = new SqliteStore(process.argv[2]!, 'normal', {}, { checkpointRows: 10 }).open();
await store.recordScores({ request_id: 'r', scored_at: new Date(), model_version: 'm', leads });
await store.close(); // the checkpoint the write started may still be running
process.stdout.write(`closed after ${store.checkpointer.runs} checkpoint(s)\n`);

const file = `${process.argv[2]!}-exporting.db`;
const exporting = new SqliteStore(file, 'normal', {}).open();
await exporting.recordScores({ request_id: 'r', scored_at: new Date(), model_version: 'm', leads });
const exported = exporting.exportPredictions({}, { chunkSize: 2 })[Symbol.asyncIterator]();
await exported.next(); // and reads no further
const first = exporting.close();
await exporting.close(); // the second waits for the first: the writer is closed when it returns
process.stdout.write(`second close returned with the log ${existsSync(`${file}-wal`) ? 'still there' : 'gone'}\n`);
await first;
const after = await exported.next().then(
  () => 'the export went on',
  (error: Error) => error.message,
);
process.stdout.write(`${after}\n`);

// A process whose last work is a SQLite store's close, started while a checkpoint thread runs: it
// must finish the close and exit 0, not leave the loop empty with the close still waiting.
import { SqliteStore } from '../../src/store/sqlite.js';

const store = new SqliteStore(process.argv[2]!, 'normal', {}, { checkpointRows: 10 }).open();
const leads = Array.from({ length: 20 }, (_, i) => ({ mql_id: `lead-${i}`, first_contact_date: '2026-03-01', landing_page_id: 'p', origin: null, probability: 0.5, tier: 'A' as const }));
await store.recordScores({ request_id: 'r', scored_at: new Date(), model_version: 'm', leads });
await store.close(); // the checkpoint the write started may still be running
process.stdout.write(`closed after ${store.checkpointer.runs} checkpoint(s)\n`);

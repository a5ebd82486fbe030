// A child process for the crash test: writes batches to a SQLite store from several writers at once and prints each batch's number once it is committed.
// Usage: crash-writer.ts <file> <leads per batch> <writers> <name>; batch k is request `<name>-k` and scores leads b<k>-0…,
// so two such processes rescore each other's leads.
import { openStore } from '../../src/store/index.js';

const [file, leadsPerBatch, writers, name] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4]), process.argv[5]!];
const store = (await openStore({ kind: 'sqlite', path: file, synchronous: 'normal' }))!;
let next = 0;

async function writer(): Promise<never> {
  for (;;) {
    const batch = next++;
    const leads = Array.from({ length: leadsPerBatch }, (_, i) => ({
      mql_id: `b${batch}-${i}`,
      first_contact_date: '2026-03-01',
      landing_page_id: `page-${i % 7}`,
      origin: 'social',
      probability: (i % 100) / 100,
      tier: 'B' as const,
    }));
    await store.recordScores({ request_id: `${name}-${batch}`, scored_at: new Date(), model_version: 'm', leads });
    process.stdout.write(`${batch}\n`); // pipes are written synchronously on Linux: printed means acknowledged
  }
}

process.stdout.write('ready\n');
await Promise.all(Array.from({ length: writers }, writer));

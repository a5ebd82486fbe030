// The service's refusals of what a store could not keep as sent, on SQLite (PostgreSQL: test/store/postgres.test.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/index.js';
import { inputEdgeCases } from './input-edges.js';

inputEdgeCases('SQLite', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'leadscore-edges-'));
  const store = (await openStore({ kind: 'sqlite', path: path.join(dir, 'scores.db'), synchronous: 'normal' }))!;
  return {
    store,
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

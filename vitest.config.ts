import os from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/build.ts'],
    // The files share their workers' module graph (no re-import of Fastify, zod and the fixture
    // model per file): on two cores the suite took 90 s isolated and 65 s shared, with no test
    // depending on a fresh module (each builds its own app, store and registry).
    isolate: false,
    // Many tests wait on child processes, a browser or a socket: two files at a time on two cores
    // (Vitest's default is one fewer than the cores) took 31 s against 47 s; three, 36 s.
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
    testTimeout: 30_000,
    // Transformed modules kept on disk (node_modules/.experimental-vitest-cache) between runs.
    experimental: { fsModuleCache: true },
    hookTimeout: 60_000,
  },
});

// Builds the app around the small fixture model, with no port and a silent or captured logger.
import { Writable } from 'node:stream';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp, loadedModel } from '../../src/server/app.js';
import type { Config } from '../../src/server/config.js';
import { trainedFixture } from '../model/helpers.js';

export const TEST_KEY = 'test-key-0123456789abcdef';

export interface TestApp {
  app: FastifyInstance;
  logLines: () => Record<string, unknown>[];
}

export async function buildTestApp(config: Partial<Pick<Config, 'bodyLimit' | 'maxBatch' | 'apiKeys'>> = {}): Promise<TestApp> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const app = await buildApp({
    config: { bodyLimit: 1024 * 1024, maxBatch: 10_000, apiKeys: [], ...config },
    model: loadedModel(trainedFixture().outcome.artifact),
    logger: pino({ level: 'info' }, sink),
  });
  await app.ready();
  return { app, logLines: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

export const validLead = (overrides: Record<string, unknown> = {}) => {
  const lead = trainedFixture().leads[0]!;
  return { mql_id: lead.mql_id, first_contact_date: lead.first_contact_date, landing_page_id: lead.landing_page_id, origin: lead.origin, ...overrides };
};

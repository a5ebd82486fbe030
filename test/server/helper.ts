// Builds the app around the small fixture model, with no port and a silent or captured logger.
import { Writable } from 'node:stream';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp, servingModel, type AppConfig, type AppOptions } from '../../src/server/app.js';
import type { ApiKey } from '../../src/server/config.js';
import { trainedFixture } from '../model/helpers.js';

export const TEST_KEY = 'test-key-0123456789abcdef';

export interface TestApp {
  app: FastifyInstance;
  logLines: () => Record<string, unknown>[];
}

/** A key with every role but admin, as a key listed without roles gets. */
export const keyFor = (key: string, roles: ApiKey['roles'] = ['score', 'read', 'outcomes']): ApiKey => ({ key, roles });

export const testConfig = (config: Partial<AppConfig> = {}): AppConfig => ({
  bodyLimit: 1024 * 1024,
  maxBatch: 10_000,
  apiKeys: [],
  requestTimeoutMs: 60_000,
  maxConnections: 1000,
  maxEventLoopDelayMs: 0,
  metricsPublic: false,
  storeReadTimeoutMs: 60_000,
  ...config,
});

export async function buildTestApp(config: Partial<AppConfig> = {}, options: Pick<AppOptions, 'pressureSampleIntervalMs' | 'store' | 'metrics'> = {}): Promise<TestApp> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const app = await buildApp({
    config: testConfig(config),
    model: servingModel(trainedFixture().outcome.artifact),
    logger: pino({ level: 'info' }, sink),
    ...options,
  });
  await app.ready();
  return { app, logLines: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

export const validLead = (overrides: Record<string, unknown> = {}) => {
  const lead = trainedFixture().leads[0]!;
  return { mql_id: lead.mql_id, first_contact_date: lead.first_contact_date, landing_page_id: lead.landing_page_id, origin: lead.origin, ...overrides };
};

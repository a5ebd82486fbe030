import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, projectRoot } from '../../src/server/config.js';

describe('loadConfig', () => {
  it('has working defaults', () => {
    expect(loadConfig({})).toEqual({
      port: 3000,
      host: '127.0.0.1',
      modelPath: path.join(projectRoot(), 'artifacts'),
      logLevel: 'info',
      bodyLimit: 10 * 1024 * 1024,
      maxBatch: 10_000,
      apiKeys: [],
      shutdownDrainMs: 1000,
      workers: 1,
      requestTimeoutMs: 60_000,
      maxConnections: 4096,
      maxEventLoopDelayMs: 1000,
      metrics: true,
      metricsPublic: false,
      store: { kind: 'sqlite', path: path.resolve('data/leadscore.db'), synchronous: 'normal' },
      storeRetentionDays: null,
      outcomeHorizonDays: 180,
      storeReadTimeoutMs: 60_000,
      challenger: null,
    });
  });

  it('reads every variable, and blank means unset', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      MODEL_PATH: '/m.json',
      LOG_LEVEL: 'warn',
      BODY_LIMIT: '2048',
      MAX_BATCH: '5',
      API_KEYS: ' aaaaaaaaaaaaaaaa , bbbbbbbbbbbbbbbb,',
      SHUTDOWN_DRAIN_MS: '0',
      WORKERS: '2',
      REQUEST_TIMEOUT_MS: '5000',
      MAX_CONNECTIONS: '100',
      MAX_EVENT_LOOP_DELAY_MS: '0',
      METRICS: 'false',
      METRICS_PUBLIC: 'true',
      STORE_URL: 'postgres://scores:secret@db.internal:5432/leadscore',
      STORE_RETENTION_DAYS: '365',
      OUTCOME_HORIZON_DAYS: '90',
      STORE_READ_TIMEOUT_MS: '120000',
      CHALLENGER: '20260101.abc',
      PATH: '/bin',
    });
    const everyRoleButAdmin = ['score', 'read', 'outcomes'];
    expect(config).toEqual({
      port: 8080,
      host: '0.0.0.0',
      modelPath: '/m.json',
      logLevel: 'warn',
      bodyLimit: 2048,
      maxBatch: 5,
      apiKeys: [
        { key: 'aaaaaaaaaaaaaaaa', roles: everyRoleButAdmin },
        { key: 'bbbbbbbbbbbbbbbb', roles: everyRoleButAdmin },
      ],
      shutdownDrainMs: 0,
      workers: 2,
      requestTimeoutMs: 5000,
      maxConnections: 100,
      maxEventLoopDelayMs: 0,
      metrics: false,
      metricsPublic: true,
      store: { kind: 'postgres', url: 'postgres://scores:secret@db.internal:5432/leadscore' },
      storeRetentionDays: 365,
      outcomeHorizonDays: 90,
      storeReadTimeoutMs: 120_000,
      challenger: '20260101.abc',
    });
    expect(loadConfig({ STORE_URL: 'none' }).store).toEqual({ kind: 'none' });
    expect(() => loadConfig({ STORE_URL: 'mysql://x' })).toThrow(/^invalid configuration: STORE_URL must be sqlite:<path>, postgres:\/\/… or none/);
    expect(loadConfig({ PORT: '' }).port).toBe(3000);
  });

  it('names every bad variable in one message', () => {
    const bad = { PORT: '80a', MAX_BATCH: '0', LOG_LEVEL: 'chatty', API_KEYS: 'short', BODY_LIMIT: '99999999999' };
    expect(() => loadConfig(bad)).toThrow(ConfigError);
    expect(() => loadConfig(bad)).toThrow(
      'invalid configuration: PORT must be a whole number; LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent; BODY_LIMIT must be at most 1073741824; MAX_BATCH must be at least 1; API_KEYS must be comma-separated keys of at least 16 characters each',
    );
    expect(() => loadConfig({ PORT: '70000' })).toThrow('PORT must be at most 65535');
    expect(() => loadConfig({ METRICS: 'off' })).toThrow('METRICS must be true or false');
  });

  it('reads roles after a colon, joined by +', () => {
    const { apiKeys } = loadConfig({ API_KEYS: 'scorer-key-0123456789:score,dashboard-key-012345:read+outcomes,ops-key-0123456789ab:admin+score+read+outcomes' });
    expect(apiKeys).toEqual([
      { key: 'scorer-key-0123456789', roles: ['score'] },
      { key: 'dashboard-key-012345', roles: ['read', 'outcomes'] },
      { key: 'ops-key-0123456789ab', roles: ['admin', 'score', 'read', 'outcomes'] },
    ]);
    expect(() => loadConfig({ API_KEYS: 'scorer-key-0123456789:scoring' })).toThrow('API_KEYS entry 1 names unknown role(s) "scoring"; roles are score, read, outcomes, admin, joined by +');
  });

  it('refuses a key listed twice (one entry would silently take the other\'s roles) and a key no client could send', () => {
    expect(() => loadConfig({ API_KEYS: 'dashboard-key-0123456789:read,ops-key-0123456789ab,dashboard-key-0123456789:admin' })).toThrow(
      'API_KEYS entry 3 repeats the key of entry 1; list each key once, with all its roles joined by +',
    );
    expect(() => loadConfig({ API_KEYS: 'a key with spaces 0123456789' })).toThrow('API_KEYS entry 1 holds a space or a character a client cannot send in an Authorization header; keys are visible ASCII');
    expect(() => loadConfig({ API_KEYS: 'clé-0123456789abcdef' })).toThrow(/API_KEYS entry 1 holds a space or a character/);
  });

  it('refuses a key list that is set but empty, instead of turning authentication off', () => {
    for (const typo of [',,, ', ',', ' , ']) {
      expect(() => loadConfig({ API_KEYS: typo })).toThrow('API_KEYS is set but holds no key; unset it to run without authentication');
    }
    expect(loadConfig({}).apiKeys).toEqual([]);
  });
});

// Service configuration: a pure function of the environment, validated once at start-up.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseStoreUrl, StoreConfigError, type StoreLocation } from '../store/index.js';

/** The folder holding package.json, from src/ or from the compiled dist/src/ alike. */
export function projectRoot(from = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}

const integer = (name: string, min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .pipe(z.number().min(min, `${name} must be at least ${min}`).max(max, `${name} must be at most ${max}`));

const EnvSchema = z.object({
  PORT: integer('PORT', 0, 65535).default(3000),
  HOST: z.string().trim().min(1, 'HOST must not be empty').default('127.0.0.1'),
  MODEL_PATH: z.string().trim().min(1, 'MODEL_PATH must not be empty').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent').default('info'),
  BODY_LIMIT: integer('BODY_LIMIT', 1024, 1024 ** 3).default(10 * 1024 * 1024),
  MAX_BATCH: integer('MAX_BATCH', 1, 1_000_000).default(10_000),
  API_KEYS: z.string().optional().transform(parseApiKeys),
  SHUTDOWN_DRAIN_MS: integer('SHUTDOWN_DRAIN_MS', 0, 8000).default(1000),
  WORKERS: integer('WORKERS', 1, 256).default(1),
  REQUEST_TIMEOUT_MS: integer('REQUEST_TIMEOUT_MS', 1000, 600_000).default(60_000),
  MAX_CONNECTIONS: integer('MAX_CONNECTIONS', 1, 1_000_000).default(4096),
  MAX_EVENT_LOOP_DELAY_MS: integer('MAX_EVENT_LOOP_DELAY_MS', 0, 60_000).default(1000),
  METRICS: z.enum(['true', 'false'], 'METRICS must be true or false').default('true'),
  METRICS_PUBLIC: z.enum(['true', 'false'], 'METRICS_PUBLIC must be true or false').default('false'),
  STORE_URL: z.string().optional(),
  STORE_RETENTION_DAYS: integer('STORE_RETENTION_DAYS', 1, 36_500).optional(),
  OUTCOME_HORIZON_DAYS: integer('OUTCOME_HORIZON_DAYS', 1, 3650).default(180),
  STORE_READ_TIMEOUT_MS: integer('STORE_READ_TIMEOUT_MS', 1000, 3_600_000).default(60_000),
  CHALLENGER: z.string().trim().min(1).optional(),
});

/** What an API key may do. A key listed without roles may do everything but `admin`. */
export const ROLES = ['score', 'read', 'outcomes', 'admin'] as const;
export type Role = (typeof ROLES)[number];
const DEFAULT_ROLES: readonly Role[] = ['score', 'read', 'outcomes'];

export interface ApiKey {
  key: string;
  roles: readonly Role[];
}

/**
 * `k1:score,k2:read+outcomes,k3` → keys with roles. A variable that is set but holds no key
 * (`API_KEYS=',,, '`, a typo in a Secret) is refused rather than read as "authentication off".
 */
function parseApiKeys(value: string | undefined, ctx: z.RefinementCtx): ApiKey[] {
  if (value === undefined) return [];
  const entries = value.split(',').map((entry) => entry.trim()).filter(Boolean);
  const fail = (message: string) => {
    ctx.addIssue({ code: 'custom', message: `API_KEYS ${message}` });
    return z.NEVER;
  };
  if (!entries.length) return fail('is set but holds no key; unset it to run without authentication');
  const keys: ApiKey[] = [];
  for (const [i, entry] of entries.entries()) {
    const [key = '', roleList] = entry.split(':', 2) as [string, string | undefined];
    if (key.length < 16) return fail(`must be comma-separated keys of at least 16 characters each (entry ${i + 1} is shorter)`);
    // A bearer token is one run of visible characters (RFC 6750): a key with a space could never be sent.
    if (!/^[\x21-\x7e]+$/.test(key)) return fail(`entry ${i + 1} holds a space or a character a client cannot send in an Authorization header; keys are visible ASCII`);
    // Listed twice, one entry's roles would silently replace the other's.
    const earlier = keys.findIndex((listed) => listed.key === key);
    if (earlier !== -1) return fail(`entry ${i + 1} repeats the key of entry ${earlier + 1}; list each key once, with all its roles joined by +`);
    if (roleList === undefined) {
      keys.push({ key, roles: DEFAULT_ROLES });
      continue;
    }
    const roles = roleList.split('+').map((role) => role.trim());
    const unknown = roles.filter((role) => !(ROLES as readonly string[]).includes(role));
    if (unknown.length || !roles.length) return fail(`entry ${i + 1} names unknown role(s) ${unknown.map((r) => JSON.stringify(r)).join(', ')}; roles are ${ROLES.join(', ')}, joined by +`);
    keys.push({ key, roles: [...new Set(roles as Role[])] });
  }
  return keys;
}

/** Every variable the service reads, for the deployment manifests' tests. */
export const ENV_KEYS = Object.keys(EnvSchema.shape);

export interface Config {
  port: number;
  host: string;
  /** An artifact file, or a folder whose latest.json names the default artifact. */
  modelPath: string;
  logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
  bodyLimit: number;
  maxBatch: number;
  apiKeys: ApiKey[];
  /** After SIGTERM, how long /health reports 503 while requests are still taken, so load balancers stop routing first. */
  shutdownDrainMs: number;
  workers: number;
  /** A request whose headers and body have not fully arrived by then is cut off (408), so slow uploads cannot hold memory. */
  requestTimeoutMs: number;
  maxConnections: number;
  /** Above this event-loop delay the process answers 503 with Retry-After instead of stalling; 0 turns the check off. */
  maxEventLoopDelayMs: number;
  /**
   * Instrumentation and /metrics (METRICS=false turns both off: for a deployment no Prometheus
   * scrapes, and to measure what the instrumentation costs).
   */
  metrics: boolean;
  /** /metrics without a key. Off by default: metrics name the model and show traffic, and Prometheus can send a bearer token. */
  metricsPublic: boolean;
  /** Where every score and outcome is kept (STORE_URL): a SQLite file by default, PostgreSQL, or none. */
  store: StoreLocation;
  /** Scores older than this are deleted in the background; unset keeps everything. */
  storeRetentionDays: number | null;
  /** A lead with no outcome counts as lost once its first contact is this many days old (93 % of Olist deals close within 180). */
  outcomeHorizonDays: number;
  /** How long a PostgreSQL read may run (STORE_READ_TIMEOUT_MS): cancelled on the server after it, a 503 here. A CSV download whose client takes nothing for as long is cut off too. */
  storeReadTimeoutMs: number;
  /** A version in the models folder scored beside the champion on every lead, its scores stored, never returned. */
  challenger: string | null;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Reads the configuration from an environment; throws one message naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const blankAsUnset = Object.fromEntries(Object.keys(EnvSchema.shape).map((key) => [key, env[key] === '' ? undefined : env[key]]));
  const parsed = EnvSchema.safeParse(blankAsUnset);
  if (!parsed.success) {
    const messages = parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0]);
      return issue.message.startsWith(variable) ? issue.message : `${variable}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration: ${messages.join('; ')}`);
  }
  const e = parsed.data;
  let store: StoreLocation;
  try {
    store = parseStoreUrl(e.STORE_URL);
  } catch (error) {
    if (error instanceof StoreConfigError) throw new ConfigError(`invalid configuration: ${error.message}`);
    throw error;
  }
  return {
    port: e.PORT,
    host: e.HOST,
    modelPath: e.MODEL_PATH ?? path.join(projectRoot(), 'artifacts'),
    logLevel: e.LOG_LEVEL,
    bodyLimit: e.BODY_LIMIT,
    maxBatch: e.MAX_BATCH,
    apiKeys: e.API_KEYS,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    workers: e.WORKERS,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    maxConnections: e.MAX_CONNECTIONS,
    maxEventLoopDelayMs: e.MAX_EVENT_LOOP_DELAY_MS,
    metrics: e.METRICS === 'true',
    metricsPublic: e.METRICS_PUBLIC === 'true',
    store,
    storeRetentionDays: e.STORE_RETENTION_DAYS ?? null,
    outcomeHorizonDays: e.OUTCOME_HORIZON_DAYS,
    storeReadTimeoutMs: e.STORE_READ_TIMEOUT_MS,
    challenger: e.CHALLENGER ?? null,
  };
}

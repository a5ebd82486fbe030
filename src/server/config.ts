// Service configuration: a pure function of the environment, validated once at start-up.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

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
  API_KEYS: z
    .string()
    .optional()
    .transform((value) => (value ?? '').split(',').map((key) => key.trim()).filter(Boolean))
    .refine((keys) => keys.every((key) => key.length >= 16), 'API_KEYS must be comma-separated keys of at least 16 characters each'),
  SHUTDOWN_DRAIN_MS: integer('SHUTDOWN_DRAIN_MS', 0, 8000).default(1000),
  WORKERS: integer('WORKERS', 1, 256).default(1),
});

/** Every environment variable the service reads: deployment manifests are checked against this list. */
export const ENV_KEYS = Object.keys(EnvSchema.shape);

export interface Config {
  port: number;
  host: string;
  /** An artifact file, or a folder whose latest.json names the default artifact. */
  modelPath: string;
  logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
  bodyLimit: number;
  maxBatch: number;
  apiKeys: string[];
  /** After SIGTERM, how long /health reports 503 while requests are still taken, so load balancers stop routing first. */
  shutdownDrainMs: number;
  workers: number;
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
  };
}

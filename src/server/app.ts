// buildApp: the HTTP service, assembled from plugins in the order they depend on each other.
// The process entry (config, model loading, signals, workers) is main.ts.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { FastifyRouteSchemaDef } from 'fastify/types/schema.js';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { Config } from './config.js';
import { validationError } from './errors.js';
import type { ObservedCounts } from '../model/drift.js';
import type { Store } from '../store/index.js';
import type { DriftCounter } from './drift.js';
import { ServiceMetrics } from './metrics.js';
import { ModelHolder, type ModelChange, type ReloadOutcome, type ServingModel } from './models.js';
import auth from './plugins/auth.js';
import docs from './plugins/docs.js';
import errors, { frameworkError, MAX_PATH_PARAM_LENGTH } from './plugins/errors.js';
import metrics from './plugins/metrics.js';
import monitor from './plugins/monitor.js';
import protection from './plugins/protection.js';
import requests, { requestId } from './plugins/requests.js';
import scoring from './plugins/scoring.js';
import store from './plugins/store.js';
import admin from './routes/admin.js';
import batch from './routes/batch.js';
import dashboard from './routes/dashboard.js';
import health from './routes/health.js';
import model from './routes/model.js';
import outcomes from './routes/outcomes.js';
import predict from './routes/predict.js';
import predictions from './routes/predictions.js';
import quality from './routes/quality.js';
import v2 from './routes/v2.js';

export { servingModel } from './models.js';

export type AppConfig = Pick<Config, 'bodyLimit' | 'maxBatch' | 'apiKeys' | 'requestTimeoutMs' | 'maxConnections' | 'maxEventLoopDelayMs' | 'metricsPublic' | 'storeReadTimeoutMs'> & Partial<Pick<Config, 'modelPath'>>;

export interface AppOptions {
  config: AppConfig;
  /** The model to serve, or a holder the process entry can swap models in. */
  model: ServingModel | ModelHolder;
  /** A pino logger (or `false` for none); tests pass a silent one. */
  logger?: FastifyBaseLogger | false;
  /** Applies a model change in every process of the service; by default just this one. The process entry passes the cluster-wide one. */
  changeAll?: (change: ModelChange) => Promise<ReloadOutcome[]>;
  /** The score store (null: STORE_URL=none). Opened and closed by the process entry, which owns it. */
  store?: Store | null;
  /** The process's metrics (null: no instrumentation), and how a scrape collects them (with WORKERS > 1, from every worker). */
  metrics?: ServiceMetrics | null;
  collectMetrics?: () => Promise<string>;
  /** With WORKERS > 1, drift counts are gathered from every worker (the process entry passes how), from this counter in each. */
  collectDriftCounts?: (sinceMs: number) => Promise<ObservedCounts>;
  driftCounter?: DriftCounter;
  /** How often overload is sampled; only tests change it. */
  pressureSampleIntervalMs?: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    readonly models: ModelHolder;
  }
}

/** zod validates each route's input; errors keep zod's paths so a batch names leads[17].field. */
const zodValidatorCompiler = ({ schema, httpPart }: FastifyRouteSchemaDef<unknown>) => (data: unknown) => {
  const result = (schema as z.ZodType).safeParse(data);
  return result.success ? { value: result.data } : { error: validationError(result.error.issues, httpPart ?? 'request') };
};

/** Responses are built by typed code; their schemas document them, and JSON.stringify writes the rest. */
const jsonSerializerCompiler = () => (data: unknown) => JSON.stringify(data);

export async function buildApp(options: AppOptions) {
  const { config } = options;
  const app = Fastify({
    loggerInstance: options.logger || undefined,
    logger: options.logger === false ? false : undefined,
    bodyLimit: config.bodyLimit,
    logController: new LogController({ disableRequestLogging: true }), // one line per request, written by plugins/requests.ts
    // Not `requestIdHeader`: Fastify would take the header as it is, without genReqId's check.
    requestIdHeader: false,
    genReqId: requestId,
    // A client trickling a body (or headers) cannot hold a connection and its buffers open: Node cuts
    // it off with 408 once the whole request has not arrived in time. Node only checks every
    // connectionsCheckingInterval (30 s by default), so check often enough to honour the limit.
    requestTimeout: config.requestTimeoutMs,
    http: { headersTimeout: config.requestTimeoutMs, connectionsCheckingInterval: Math.min(500, config.requestTimeoutMs) },
    return503OnClosing: true,
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    frameworkErrors: frameworkError,
    // Given up front, so Fastify never loads ajv or fast-json-stringify (about 45 ms of the cold start).
    // (Its types describe ajv's factories; ours take the same route definition.)
    schemaController: { compilersFactory: { buildValidator: (() => zodValidatorCompiler) as never, buildSerializer: () => jsonSerializerCompiler } },
  }).withTypeProvider<ZodTypeProvider>();
  app.server.maxConnections = config.maxConnections;

  app.decorate('models', options.model instanceof ModelHolder ? options.model : new ModelHolder(options.model));

  await app.register(errors, { bodyLimit: config.bodyLimit });
  await app.register(requests);
  await app.register(protection, { maxEventLoopDelayMs: config.maxEventLoopDelayMs, sampleIntervalMs: options.pressureSampleIntervalMs });
  await app.register(docs);
  await app.register(auth, { apiKeys: config.apiKeys });
  await app.register(metrics, { metrics: options.metrics === undefined ? new ServiceMetrics() : options.metrics, public: config.metricsPublic, collect: options.collectMetrics });
  await app.register(store, { store: options.store ?? null });
  await app.register(scoring, { collectDriftCounts: options.collectDriftCounts, driftCounter: options.driftCounter });
  await app.register(monitor);

  await app.register(health);
  await app.register(model, { modelPath: config.modelPath });
  await app.register(predict);
  await app.register(batch, { maxBatch: config.maxBatch, bodyLimit: config.bodyLimit });
  await app.register(predictions, { exportStallMs: config.storeReadTimeoutMs });
  await app.register(outcomes, { maxOutcomes: config.maxBatch, bodyLimit: config.bodyLimit });
  await app.register(quality);
  await app.register(dashboard, { keysRequired: config.apiKeys.length > 0 });
  await app.register(admin, { modelPath: config.modelPath, changeAll: options.changeAll ?? (async (change) => [await app.models.apply(change)]) });
  await app.register(v2, { prefix: '/v2', maxBatch: config.maxBatch, bodyLimit: config.bodyLimit });
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
export type { FastifyInstance };

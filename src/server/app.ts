// buildApp: the HTTP service around one loaded model. The process entry is main.ts.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { FastifyRouteSchemaDef } from 'fastify/types/schema.js';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { Lead } from '../features/lead.js';
import type { Artifact } from '../model/artifact.js';
import { Scorer } from '../model/scorer.js';
import type { Config } from './config.js';
import { parseLeadsCsv, scoresCsvHeader, scoresCsvRows } from './csv.js';
import { errorBody, HttpError, sendError, validationError } from './errors.js';
import { responseWriter } from './serialize.js';
import {
  BatchResponseSchema,
  batchRequestSchema,
  ErrorSchema,
  HealthResponseSchema,
  LeadSchema,
  LiveResponseSchema,
  ModelInfoSchema,
  PredictResponseSchema,
} from './schemas.js';

export interface LoadedModel {
  artifact: Artifact;
  scorer: Scorer;
}

export function loadedModel(artifact: Artifact): LoadedModel {
  return { artifact, scorer: new Scorer(artifact) };
}

export interface AppOptions {
  config: Pick<Config, 'bodyLimit' | 'maxBatch' | 'apiKeys'>;
  model: LoadedModel;
  /** A pino logger (or `false` for none); tests pass a silent one. */
  logger?: FastifyBaseLogger | false;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Turns readiness to 503 so load balancers stop sending work; the entry calls it on SIGTERM. */
    beginShutdown(): void;
  }
  interface FastifyRequest {
    batchSize?: number;
    csvLines?: number[];
  }
}

const JSON_TYPE = 'application/json; charset=utf-8';
const REQUEST_ID = /^[\w.:-]{1,128}$/;

const errorResponses = { 400: ErrorSchema, 401: ErrorSchema, 413: ErrorSchema, 415: ErrorSchema };

function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/** zod validates each route's input; errors keep zod's paths so a batch names leads[17].field. */
const zodValidatorCompiler = ({ schema, httpPart }: FastifyRouteSchemaDef<unknown>) => (data: unknown) => {
  const result = (schema as z.ZodType).safeParse(data);
  return result.success ? { value: result.data } : { error: validationError(result.error.issues, httpPart ?? 'request') };
};

/** Responses are built by typed code; their schemas document them, and JSON.stringify writes the rest. */
const jsonSerializerCompiler = () => (data: unknown) => JSON.stringify(data);

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, model } = options;
  const { artifact, scorer } = model;
  const write = responseWriter(scorer);
  const startedAt = Date.now();
  let shuttingDown = false;

  const app = Fastify({
    loggerInstance: options.logger || undefined,
    logger: options.logger === false ? false : undefined,
    bodyLimit: config.bodyLimit,
    logController: new LogController({ disableRequestLogging: true }), // one line per request, written in onResponse below
    requestIdHeader: 'x-request-id',
    genReqId: (request) => {
      const incoming = request.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    return503OnClosing: true,
    // Given up front, so Fastify never loads ajv or fast-json-stringify (about 45 ms of the cold start).
    // (Its types describe ajv's factories; ours take the same route definition.)
    schemaController: { compilersFactory: { buildValidator: (() => zodValidatorCompiler) as never, buildSerializer: () => jsonSerializerCompiler } },
  });

  app.removeContentTypeParser('text/plain'); // JSON (and CSV on /batch-predict) only: anything else is a 415

  app.decorate('beginShutdown', () => {
    shuttingDown = true;
  });

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof HttpError && request.csvLines && error.details) {
      const lines = request.csvLines;
      for (const detail of error.details) {
        const index = /^leads\[(\d+)\]/.exec(detail.path)?.[1];
        if (index !== undefined && lines[Number(index)] !== undefined) detail.message += ` (CSV line ${lines[Number(index)]})`;
      }
    }
    return sendError(error as Error, request, reply, config.bodyLimit);
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody(404, `no route ${request.method} ${request.url.split('?')[0]}; see /docs for the API`));
  });

  // Callback-style hooks: an async hook costs a promise per request on the hot path.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unknown',
        status: reply.statusCode,
        duration_ms: Math.round(reply.elapsedTime * 100) / 100,
        model_version: scorer.version,
        ...(request.batchSize !== undefined ? { batch_size: request.batchSize } : {}),
      },
      'request',
    );
    done();
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'leadscore',
        version: '1.0.0',
        description: 'Scores marketing-qualified leads: the probability that each becomes a closed deal, a tier A–D and the reasons.',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'Needed when the server runs with API_KEYS' } } },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  const keys = config.apiKeys.map(keyDigest);
  const checkKey = async (request: FastifyRequest, reply: FastifyReply) => {
    const match = /^Bearer (.+)$/.exec(request.headers.authorization ?? '');
    // Comparing fixed-length digests in constant time leaks neither the key nor its length.
    const offered = match ? keyDigest(match[1]!) : null;
    let valid = false;
    for (const key of keys) if (offered && timingSafeEqual(offered, key)) valid = true;
    if (!valid) {
      reply.header('www-authenticate', 'Bearer');
      throw new HttpError(401, match ? 'the API key is not valid' : 'missing API key: send Authorization: Bearer <key>');
    }
  };
  // Without keys there is no hook at all, rather than one that returns at once on every request.
  const requireKey = keys.length ? checkKey : [];
  const security = [{ apiKey: [] }];

  app.get('/health', {
    schema: { summary: 'Readiness: 200 while the model is loaded and work is accepted, 503 once shutdown began', tags: ['ops'], response: { 200: HealthResponseSchema, 503: HealthResponseSchema } },
    handler: async (_request, reply) => {
      if (shuttingDown) return reply.code(503).send({ status: 'shutting_down' });
      return {
        status: 'ok',
        model: { version: artifact.model_version, created_at: artifact.created_at, sha256: artifact.sha256 },
        uptime_s: Math.round((Date.now() - startedAt) / 100) / 10,
      };
    },
  });

  app.get('/health/live', {
    schema: { summary: 'Liveness: 200 while the process runs', tags: ['ops'], response: { 200: LiveResponseSchema } },
    handler: async () => ({ status: 'alive' }),
  });

  const features = artifact.pipeline.steps.map((step) => ({ feature: step.feature, categories: step.categories.length }));
  const modelInfo = {
    model_version: artifact.model_version,
    created_at: artifact.created_at,
    sha256: artifact.sha256,
    training_data: artifact.training_data,
    features,
    pipeline_settings: artifact.pipeline.settings,
    solver: artifact.model.solver,
    selection: artifact.selection,
    metrics: artifact.metrics,
    tiers: artifact.tiers,
  };
  app.get('/model', {
    onRequest: requireKey,
    schema: { summary: 'The loaded model’s metadata, without its weights', tags: ['model'], security, response: { 200: ModelInfoSchema, 401: ErrorSchema } },
    handler: async () => modelInfo,
  });

  app.post('/predict', {
    onRequest: requireKey,
    schema: {
      summary: 'Score one lead',
      tags: ['scoring'],
      security,
      body: LeadSchema,
      response: { 200: PredictResponseSchema, ...errorResponses },
    },
    handler: async (request, reply) => {
      const lead = request.body as Lead;
      return reply.type(JSON_TYPE).send(write.prediction({ mql_id: lead.mql_id, ...scorer.score(lead) }));
    },
  });

  const BatchRequestSchema = batchRequestSchema(config.maxBatch);
  await app.register(async (batch) => {
    // Only this route reads CSV bodies; registering the parser here keeps /predict JSON-only.
    batch.addContentTypeParser(['text/csv', 'application/csv'], { parseAs: 'string' }, async (request: FastifyRequest, body: string) => {
      const { leads, lines } = await parseLeadsCsv(body);
      request.csvLines = lines;
      return { leads };
    });

    batch.post('/batch-predict', {
      onRequest: requireKey,
      // The size check comes before validation so an oversized batch is refused without reading every lead.
      preValidation: async (request) => {
        const leads = (request.body as { leads?: unknown } | null)?.leads;
        if (Array.isArray(leads) && leads.length > config.maxBatch) {
          throw new HttpError(413, `the batch holds ${leads.length} leads; MAX_BATCH is ${config.maxBatch}`);
        }
      },
      schema: {
        summary: 'Score many leads (JSON or CSV in; JSON, or CSV with Accept: text/csv, out)',
        tags: ['scoring'],
        security,
        body: BatchRequestSchema,
        response: { 200: BatchResponseSchema, ...errorResponses },
      },
      handler: async (request, reply) => {
        const { leads } = request.body as { leads: Lead[] };
        request.batchSize = leads.length;
        const predictions = leads.map((lead) => ({ mql_id: lead.mql_id, ...scorer.score(lead) }));
        if (wantsCsv(request)) {
          return reply.type('text/csv; charset=utf-8').serializer((payload: string) => payload).send(scoresCsvHeader(true) + scoresCsvRows(predictions, scorer.version));
        }
        return reply.type(JSON_TYPE).send(write.batch(predictions));
      },
    });
  });

  return app;
}

/** CSV when the client lists text/csv in Accept and not application/json ahead of it. */
function wantsCsv(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return /\btext\/csv\b/.test(accept) && !/\bapplication\/json\b/.test(accept.split('text/csv')[0] ?? '');
}

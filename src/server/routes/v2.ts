// The Open Inference Protocol (KServe V2) REST routes under /v2, so KServe, MLServer and Triton
// clients can call the model. Errors here take the protocol's shape, { "error": "…" }.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { projectRoot } from '../config.js';
import { describeError, HttpError } from '../errors.js';
import { JSON_TYPE, sendWritten } from '../http.js';
import { INPUT_TENSORS, OUTPUT_TENSORS, requestedOutputs, tableDecoder, V2_MODEL_NAME, V2_PLATFORM } from '../inference.js';
import type { ServingModel } from '../models.js';
import { exemptFromPressure } from '../plugins/protection.js';
import {
  InferenceRequestSchema,
  InferenceResponseSchema,
  ModelMetadataSchema,
  ModelParamsSchema,
  ModelReadySchema,
  ServerLiveSchema,
  ServerMetadataSchema,
  ServerReadySchema,
  V2ErrorSchema,
  VersionParamsSchema,
} from '../schemas-v2.js';

export interface V2Options {
  maxBatch: number;
  bodyLimit: number;
}

/**
 * The models served, each under its artifact version: the champion. A challenger is scored in the
 * champion's shadow and its scores are never returned, so it is not listed; a model served beside
 * the champion would join this list, and every /v2 route (metadata, readiness, inference) would offer it.
 */
export function loadedVersions(app: FastifyInstance): readonly ServingModel[] {
  return [app.models.champion];
}

/** How many problems one error message lists before it says how many more there are. */
const LISTED_PROBLEMS = 10;

/** The protocol's error body: one string, so the details the service's own shape lists are written into it. */
function v2Error(error: Error, request: FastifyRequest, reply: FastifyReply, bodyLimit: number): FastifyReply {
  const { statusCode, message, details, headers } = describeError(error, request, bodyLimit);
  if (headers) reply.headers(headers);
  if (!details?.length) return reply.code(statusCode).send({ error: message });
  const paths = error instanceof HttpError ? error.detailPaths : undefined;
  const inputs = (request.body as { inputs?: { name?: unknown }[] } | null)?.inputs;
  const listed = details.slice(0, LISTED_PROBLEMS).map((detail, i) => {
    // Schema errors come with zod's index path (inputs[2].shape); name the tensor instead, as the client knows it.
    const [field, index] = paths?.[i] ?? [];
    const name = field === 'inputs' && typeof index === 'number' && Array.isArray(inputs) ? inputs[index]?.name : undefined;
    const where = typeof name === 'string' && name ? detail.path.replace(`inputs[${String(index)}]`, `inputs[${name}]`) : detail.path;
    return `${where}: ${detail.message}`;
  });
  const more = details.length > LISTED_PROBLEMS ? `; and ${details.length - LISTED_PROBLEMS} more` : '';
  return reply.code(statusCode).send({ error: `invalid request: ${listed.join('; ')}${more}` });
}

const v2: FastifyPluginAsyncZod<V2Options> = async (app, { maxBatch, bodyLimit }) => {
  const version = (JSON.parse(readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  const decode = tableDecoder(maxBatch);
  const tags = ['open inference protocol (v2)'];
  const errors = { 400: V2ErrorSchema, 401: V2ErrorSchema, 403: V2ErrorSchema, 404: V2ErrorSchema, 413: V2ErrorSchema, 415: V2ErrorSchema, 503: V2ErrorSchema };

  // Encapsulated here, so only the /v2 routes answer in the protocol's error shape.
  app.setErrorHandler((error, request, reply) => v2Error(error as Error, request, reply, bodyLimit));
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}; the protocol's routes are /v2, /v2/health/{live,ready} and /v2/models/${V2_MODEL_NAME}[/versions/{version}][/ready|/infer]` });
  });

  /** The model a path names: 404 for another name or a version not loaded; without a version, the champion. */
  const resolve = ({ name, version: requested }: { name: string; version?: string }): ServingModel => {
    if (name !== V2_MODEL_NAME) throw new HttpError(404, `no model named ${JSON.stringify(name)}; this server serves ${JSON.stringify(V2_MODEL_NAME)}`);
    if (requested === undefined) return app.models.champion;
    const models = loadedVersions(app);
    const model = models.find((m) => m.scorer.version === requested);
    if (!model) throw new HttpError(404, `model ${V2_MODEL_NAME} has no version ${JSON.stringify(requested)} loaded; loaded: ${models.map((m) => m.scorer.version).join(', ')}`);
    return model;
  };

  // Ready as /health is: not once shutdown began, nor while the store cannot record a score (every one would be refused).
  const ready = async () => !app.shuttingDown && (!app.store || (await app.store.health()).status !== 'down');

  const metadata = () => ({
    name: V2_MODEL_NAME,
    versions: loadedVersions(app).map((m) => m.scorer.version),
    platform: V2_PLATFORM,
    inputs: INPUT_TENSORS,
    outputs: Object.values(OUTPUT_TENSORS),
  });

  app.get('/health/live', {
    config: exemptFromPressure,
    schema: { summary: 'Server live: 200 while the process runs', tags, response: { 200: ServerLiveSchema } },
    handler: async () => ({ live: true }),
  });

  app.get('/health/ready', {
    schema: { summary: 'Server ready: 200 while the model is loaded and scores can be recorded; 503 once shutdown began, or while the store cannot take a write', tags, response: { 200: ServerReadySchema, 503: ServerReadySchema } },
    handler: async (_request, reply) => ((await ready()) ? { ready: true } : reply.code(503).send({ ready: false })),
  });

  app.get('/', {
    schema: { summary: 'Server metadata', tags, response: { 200: ServerMetadataSchema, ...errors } },
    handler: async () => ({ name: 'leadscore', version, extensions: [] }),
  });

  for (const suffix of ['', '/versions/:version'] as const) {
    const params = suffix ? VersionParamsSchema : ModelParamsSchema;
    const which = suffix ? 'this version of the model' : 'the model (its serving version)';

    app.get(`/models/:name${suffix}`, {
      schema: { summary: `Model metadata of ${which}: its input and output tensors and the versions loaded`, tags, params, response: { 200: ModelMetadataSchema, ...errors } },
      handler: async (request) => {
        resolve(request.params);
        return metadata();
      },
    });

    app.get(`/models/:name${suffix}/ready`, {
      schema: { summary: `Model ready: whether ${which} takes inference requests (503 as server readiness)`, tags, params, response: { ...errors, 200: ModelReadySchema, 503: ModelReadySchema } },
      handler: async (request, reply) => {
        resolve(request.params);
        return (await ready()) ? { name: V2_MODEL_NAME, ready: true } : reply.code(503).send({ name: V2_MODEL_NAME, ready: false });
      },
    });

    app.post(`/models/:name${suffix}/infer`, {
      onRequest: app.requireRole('score'),
      schema: {
        summary: `Inference with ${which}: one BYTES column per lead field in, probability and tier (and explanation, when asked for) out`,
        tags,
        security: app.security,
        params,
        body: InferenceRequestSchema,
        response: { 200: InferenceResponseSchema, ...errors },
      },
      handler: async (request, reply) => {
        resolve(request.params);
        const outputs = requestedOutputs(request.body);
        const leads = decode(request.body);
        request.batchSize = leads.length;
        // The path was resolved against the models live in this same tick, and scoreLeads reads them
        // before its first await: the model named is the one that scores (and records) every lead.
        const { model, predictions } = await app.scoreLeads(request, leads);
        return sendWritten(reply, JSON_TYPE, model.write.inference({ id: request.body.id ?? request.id, outputs, scores: predictions }));
      },
    });
  }
};

export default v2;
